"""The Reachy joint table: every motor of PROTOCOLS.md §4, both frames, both directions."""

from __future__ import annotations

import math

import pytest
from robot_bridges.protocols.reachy_joints import (check_table, closing_limit_motor_deg,
                                                   DEFAULT_JOINTS, DISK_START_DEG, FAN_ALIASES,
                                                   FANS, Joint)

# The §4 table, written out again by hand: wire name -> (offset, direct, motor min, motor
# max, joint min, joint max). The motor limits are the SDK's angle-limits; the joint bounds
# are the columns PROTOCOLS.md derives (and the official arm specification states).
SECTION_4 = {
    'left_arm.shoulder_pitch': (90, True, -60, 180, -150, 90),
    'left_arm.shoulder_roll': (-90, False, -90, 100, -10, 180),
    'left_arm.arm_yaw': (0, False, -90, 90, -90, 90),
    'left_arm.elbow_pitch': (0, False, 0, 125, -125, 0),
    'right_arm.shoulder_pitch': (90, False, -180, 60, -150, 90),
    'right_arm.shoulder_roll': (90, False, -100, 90, -180, 10),
    'right_arm.arm_yaw': (0, False, -90, 90, -90, 90),
    'right_arm.elbow_pitch': (0, False, 0, 125, -125, 0),
    'left_arm.hand.forearm_yaw': (0, False, -100, 100, -100, 100),
    'right_arm.hand.forearm_yaw': (0, False, -100, 100, -100, 100),
    'left_arm.hand.wrist_pitch': (0, False, -45, 45, -45, 45),
    'right_arm.hand.wrist_pitch': (0, False, -45, 45, -45, 45),
    'left_arm.hand.wrist_roll': (0, False, -45, 45, -45, 45),
    'right_arm.hand.wrist_roll': (0, False, -45, 45, -45, 45),
    'left_arm.hand.gripper': (0, True, -20, 69, -20, 69),
    'right_arm.hand.gripper': (0, True, -69, 20, -69, 20),
    'head.left_antenna': (0, True, -150, 150, -150, 150),
    'head.right_antenna': (0, True, -150, 150, -150, 150),
}
ROS_NAMES = [
    'l_shoulder_pitch', 'l_shoulder_roll', 'l_arm_yaw', 'l_elbow_pitch', 'l_forearm_yaw',
    'l_wrist_pitch', 'l_wrist_roll', 'l_gripper',
    'r_shoulder_pitch', 'r_shoulder_roll', 'r_arm_yaw', 'r_elbow_pitch', 'r_forearm_yaw',
    'r_wrist_pitch', 'r_wrist_roll', 'r_gripper',
    'l_antenna', 'r_antenna', 'neck_disk_bottom', 'neck_disk_middle', 'neck_disk_top',
]
DISKS = ['head.disk_bottom', 'head.disk_middle', 'head.disk_top']
BY_WIRE = {joint.wire_name: joint for joint in DEFAULT_JOINTS}


def test_default_table_is_section_4_with_the_ros_2_names_in_order() -> None:
    assert [joint.name for joint in DEFAULT_JOINTS] == ROS_NAMES
    assert set(BY_WIRE) == set(SECTION_4) | set(DISKS)
    for wire, row in SECTION_4.items():
        joint = BY_WIRE[wire]
        assert (joint.offset_deg, joint.direct, joint.motor_min_deg, joint.motor_max_deg,
                joint.min_deg, joint.max_deg) == row, wire
        assert not joint.is_disk
    # ROS name and wire name belong to the same motor.
    for joint in DEFAULT_JOINTS:
        side = {'left_arm': 'l_', 'right_arm': 'r_'}.get(joint.part)
        if side:
            assert joint.name.startswith(side)
            assert joint.name[2:] == joint.wire_name.rsplit('.', 1)[1]
    assert check_table(DEFAULT_JOINTS) == DEFAULT_JOINTS


@pytest.mark.parametrize('wire', sorted(SECTION_4))
def test_every_motor_both_directions(wire: str) -> None:
    joint = BY_WIRE[wire]
    offset, direct, motor_low, motor_high, low, high = SECTION_4[wire]
    sign = 1 if direct else -1
    for joint_deg in (low, high, 0.0, (low + high) / 2, 12.5):
        motor_deg = (joint_deg + offset) * sign  # the formula, independently
        assert joint.to_motor(joint_deg) == pytest.approx(motor_deg, abs=1e-12)
        assert joint.to_joint(motor_deg) == pytest.approx(joint_deg, abs=1e-12)
    # The joint bounds land on the motor limits (either way round), and the joint zero is
    # inside them: the start pose needs no clamp.
    assert sorted((joint.to_motor(low), joint.to_motor(high))) == [motor_low, motor_high]
    assert low <= 0.0 <= high
    assert joint.clamp_motor(motor_low - 1) == motor_low
    assert joint.clamp_motor(motor_high + 1) == motor_high


def test_offsets_and_indirect_motors_by_example() -> None:
    # Direct with offset: the left shoulder's joint zero is motor 90.
    assert BY_WIRE['left_arm.shoulder_pitch'].to_motor(0.0) == 90.0
    assert BY_WIRE['left_arm.shoulder_pitch'].to_joint(0.0) == -90.0
    # Indirect with offset: the right shoulder pitch's joint 30 is motor -(30 + 90).
    assert BY_WIRE['right_arm.shoulder_pitch'].to_motor(30.0) == -120.0
    assert BY_WIRE['right_arm.shoulder_pitch'].to_joint(-120.0) == 30.0
    # Indirect with a negative offset.
    assert BY_WIRE['left_arm.shoulder_roll'].to_motor(10.0) == 80.0
    assert BY_WIRE['left_arm.shoulder_roll'].to_joint(80.0) == 10.0
    # Indirect, no offset: a plain sign flip.
    assert BY_WIRE['left_arm.elbow_pitch'].to_motor(100.0) == -100.0


@pytest.mark.parametrize('wire', DISKS)
def test_disks_have_no_offset_start_at_minus_60_and_travel_apart(wire: str) -> None:
    disk = BY_WIRE[wire]
    assert disk.is_disk and disk.part == 'head'
    assert disk.start_deg == DISK_START_DEG == -60.0
    assert disk.to_motor(-60.0) == -60.0 and disk.to_joint(25.0) == 25.0


def test_clamp_and_start_positions() -> None:
    elbow = BY_WIRE['left_arm.elbow_pitch']
    # The elbow bends one way: negative joint degrees (motor 0 .. 125).
    assert (elbow.clamp(5.0), elbow.clamp(-200.0), elbow.clamp(-60.0)) == (0.0, -125.0, -60.0)
    assert elbow.to_motor(elbow.clamp(-110.0)) == 110.0
    assert all(joint.start_deg == 0.0 for joint in DEFAULT_JOINTS if not joint.is_disk)
    # A start outside the limits is clamped: here the bounds are the indirect motor's -20..-10.
    row = Joint('x', 'head.x', direct=False, motor_min_deg=10.0, motor_max_deg=20.0)
    assert (row.min_deg, row.max_deg, row.start_deg) == (-20.0, -10.0, -10.0)


def test_grippers_close_on_the_limit_nearer_zero() -> None:
    assert closing_limit_motor_deg(BY_WIRE['left_arm.hand.gripper']) == -20.0
    assert closing_limit_motor_deg(BY_WIRE['right_arm.hand.gripper']) == 20.0


def test_invalid_rows_and_tables_are_refused_with_the_joint_named() -> None:
    with pytest.raises(ValueError, match="'left_arm.x'.*motor_min_deg"):
        Joint('x', 'left_arm.x', motor_min_deg=5.0, motor_max_deg=1.0)
    with pytest.raises(ValueError, match='offset_deg must be finite'):
        Joint('x', 'left_arm.x', offset_deg=math.nan)
    with pytest.raises(ValueError, match='must start with one of'):
        Joint('x', 'torso.x')
    with pytest.raises(ValueError, match='must not be empty'):
        Joint('', 'head.x')
    with pytest.raises(ValueError, match="name 'a' appears twice"):
        check_table([Joint('a', 'head.x'), Joint('a', 'head.y')])
    with pytest.raises(ValueError, match="wire_name 'head.x' appears twice"):
        check_table([Joint('a', 'head.x'), Joint('b', 'head.x')])


def test_fans_of_section_4_are_the_arm_attributes_of_the_sdk() -> None:
    assert FANS == ('left_arm.shoulder_fan', 'left_arm.elbow_fan', 'left_arm.wrist_fan',
                    'right_arm.shoulder_fan', 'right_arm.elbow_fan', 'right_arm.wrist_fan')
    assert FAN_ALIASES == {'left_arm.hand.wrist_fan': 'left_arm.wrist_fan',
                           'right_arm.hand.wrist_fan': 'right_arm.wrist_fan'}
