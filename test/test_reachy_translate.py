"""Reachy values <-> ROS messages: commands in radians to motor degrees, eyes, forces."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
import numpy as np
import pytest
from robot_bridges.protocols.reachy import LocalProtocolError, RemoteProtocolError
from robot_bridges.protocols.reachy_joints import DEFAULT_JOINTS, Joint
from robot_bridges.translate.reachy import (command_goals, compressed_eye, force, joint_state,
                                            raw_eye)
from sensor_msgs.msg import JointState
import simplejpeg

INDEX = {joint.name: i for i, joint in enumerate(DEFAULT_JOINTS)}
STAMP = Time(sec=5, nanosec=7)


def command(names: list[str], positions: list[float]) -> JointState:
    return JointState(name=names, position=positions)


def test_command_in_radians_becomes_motor_degrees() -> None:
    goals, clamped = command_goals(
        command(['l_shoulder_pitch', 'r_shoulder_pitch', 'l_elbow_pitch'],
                [math.radians(30), math.radians(-30), math.radians(-90)]),
        INDEX, DEFAULT_JOINTS)
    assert clamped == 0
    assert [(DEFAULT_JOINTS[i].name, pytest.approx(deg)) for i, deg in goals] == [
        ('l_shoulder_pitch', 120.0), ('r_shoulder_pitch', -60.0), ('l_elbow_pitch', 90.0)]


# Issue #19: joint degrees commanded -> what the real SDK puts on the wire (the SDK does
# not clamp; all of these are inside the joint bounds, so the bridge sends the same).
SDK_WIRE = [
    ('l_elbow_pitch', -110.0, 110.0),
    ('r_elbow_pitch', -80.0, 80.0),  # the official docs' own example
    ('l_shoulder_pitch', -90.0, 0.0),
    ('r_shoulder_pitch', 80.0, -170.0),
    ('l_shoulder_roll', 150.0, -60.0),
    ('r_shoulder_roll', -150.0, 60.0),
]


@pytest.mark.parametrize('name, joint_deg, wire_deg', SDK_WIRE)
def test_the_issues_commands_leave_as_the_sdk_sends_them(name: str, joint_deg: float,
                                                         wire_deg: float) -> None:
    goals, clamped = command_goals(command([name], [math.radians(joint_deg)]), INDEX,
                                   DEFAULT_JOINTS)
    assert clamped == 0
    assert goals == [(INDEX[name], pytest.approx(wire_deg, abs=1e-9))]


@pytest.mark.parametrize('joint', DEFAULT_JOINTS, ids=lambda j: j.name)
def test_every_joints_full_range_passes_and_only_beyond_it_is_clamped(joint: Joint) -> None:
    low, high = joint.min_deg, joint.max_deg
    for value in [low + (high - low) * k / 8 for k in range(9)]:
        goals, clamped = command_goals(command([joint.name], [math.radians(value)]), INDEX,
                                       DEFAULT_JOINTS)
        motor = goals[0][1]
        assert clamped == 0, value
        assert motor == pytest.approx(joint.to_motor(value), abs=1e-9)
        assert joint.motor_min_deg - 1e-9 <= motor <= joint.motor_max_deg + 1e-9
    for beyond, edge in ((low - 5.0, low), (high + 5.0, high)):
        goals, clamped = command_goals(command([joint.name], [math.radians(beyond)]), INDEX,
                                       DEFAULT_JOINTS)
        assert clamped == 1
        assert goals[0][1] == pytest.approx(joint.to_motor(edge), abs=1e-9)


def test_goals_are_clamped_to_the_joint_limits_and_counted() -> None:
    goals, clamped = command_goals(
        command(['l_elbow_pitch', 'l_gripper', 'l_antenna'],
                [math.radians(10), math.radians(500), math.radians(150)]),
        INDEX, DEFAULT_JOINTS)
    assert clamped == 2  # 150 deg is exactly the antenna's limit: not a clamp
    # The elbow cannot bend backwards (joint > 0, motor < 0): it stops at motor 0.
    assert [deg for _, deg in goals] == [pytest.approx(0.0), pytest.approx(69.0),
                                         pytest.approx(150.0)]


@pytest.mark.parametrize('names, positions, match', [
    (['l_elbow_pitch'], [], '1 names but 0 positions'),
    (['tail'], [0.0], "unknown joint 'tail'"),
    (['l_elbow_pitch', 'l_elbow_pitch'], [0.0, 0.1], 'named twice'),
    (['l_elbow_pitch'], [math.nan], 'not finite'),
    (['l_elbow_pitch'], [math.inf], 'not finite'),
])
def test_bad_commands_are_refused_whole(names: list[str], positions: list[float],
                                        match: str) -> None:
    with pytest.raises(LocalProtocolError, match=match):
        command_goals(command(names, positions), INDEX, DEFAULT_JOINTS)


def test_joint_state_in_radians_in_table_order() -> None:
    motor = [joint.to_motor(10.0) for joint in DEFAULT_JOINTS]
    msg = joint_state([j.name for j in DEFAULT_JOINTS], motor, DEFAULT_JOINTS, STAMP)
    assert list(msg.name) == [joint.name for joint in DEFAULT_JOINTS]
    assert np.allclose(msg.position, math.radians(10.0))
    assert msg.header.stamp == STAMP and not msg.velocity and not msg.effort


def test_eyes_compressed_as_received_and_raw_decoded() -> None:
    pixels = np.zeros((240, 320, 3), np.uint8)
    pixels[:, :160] = (200, 10, 10)
    jpeg = simplejpeg.encode_jpeg(pixels, quality=90, colorspace='RGB')
    compressed = compressed_eye(jpeg, STAMP, 'left_eye')
    assert bytes(compressed.data) == jpeg and compressed.format == 'jpeg'
    assert compressed.header.frame_id == 'left_eye'
    raw = raw_eye(jpeg, STAMP, 'r_left_eye')
    assert (raw.width, raw.height, raw.encoding, raw.step) == (320, 240, 'rgb8', 960)
    assert raw.header.frame_id == 'r_left_eye' and raw.header.stamp == STAMP
    decoded = np.frombuffer(bytes(raw.data), np.uint8).reshape(240, 320, 3)
    assert abs(int(decoded[120, 40, 0]) - 200) < 10 and decoded[120, 300, 0] < 10
    with pytest.raises(RemoteProtocolError, match='does not decode'):
        raw_eye(b'\xff\xd8 not really', STAMP, '')


def test_force_is_nan_when_absent() -> None:
    assert math.isnan(force(None).data)
    assert force(2.5).data == 2.5
