"""
Property tests of the Reachy protocol modules (hypothesis; profile from conftest.py).

Both sides: any frame the server receives gives a Reply or a RemoteProtocolError, any frame
the client (simulator) receives gives Goals or a RemoteProtocolError; frames are arbitrary,
golden frames mutated byte by byte, or golden frames mutated value by value. The encoders
raise only LocalProtocolError, and goal frames and replies survive the wire exactly. The
joint table converts both ways.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from fuzz_strategies import (ANY_TEXT, decodes_or_raises, HUGE_INTS, json_values, mutated,
                             mutated_value, ROS_TEXT, ros_text)
from hypothesis import given, strategies as st
import pytest
from robot_bridges.protocols.reachy import (b64_jpeg, encode_reply, GoalEncoder, Goals,
                                            LocalProtocolError, MAX_NAMED_UNKNOWN, parse_goals,
                                            parse_reply, RemoteProtocolError, Reply)
from robot_bridges.protocols.reachy_joints import DEFAULT_JOINTS

pytestmark = pytest.mark.fuzz

JPEG = b'\xff\xd8\xff\xe0' + b'jpeg body' + b'\xff\xd9'
KNOWN = {'left_arm.shoulder_pitch', 'head.left_antenna', 'head.disk_top'}
GOLDEN_REPLY = {
    'motors': [{'name': 'left_arm.shoulder_pitch', 'present_position': 12.5},
               {'name': 'head.left_antenna', 'present_position': -3},
               {'name': 'tail.wag', 'present_position': 1}],
    'disks': [{'name': 'head.disk_top', 'present_position': -50}],
    'left_eye': b64_jpeg(JPEG), 'right_eye': b64_jpeg(JPEG + b'x'),
    'left_force_sensor': 0.0, 'right_force_sensor': 2}
GOLDEN_GOALS = json.loads(GoalEncoder(['left_arm.shoulder_pitch', 'head.left_antenna'],
                                      ['head.disk_bottom']).encode([90.0, -12.5, -60.0]))
KEYS = st.sampled_from(['motors', 'disks', 'name', 'present_position', 'goal_position',
                        'left_eye', 'right_eye', 'left_force_sensor', 'right_force_sensor'])
FINITE = st.floats(allow_nan=False, allow_infinity=False)
NUMBERS = st.floats() | st.integers() | st.sampled_from(HUGE_INTS)


def _check_reply(frame: str | bytes) -> None:
    reply = decodes_or_raises(parse_reply, frame, KNOWN, error=RemoteProtocolError)
    if isinstance(reply, RemoteProtocolError):
        return
    assert isinstance(reply, Reply) and set(reply.present) <= KNOWN
    assert all(type(v) is float and math.isfinite(v) for v in reply.present.values())
    for force in (reply.left_force, reply.right_force):
        assert force is None or (type(force) is float and math.isfinite(force))
    for eye in (reply.left_eye, reply.right_eye):
        assert eye is None or eye.startswith(b'\xff\xd8')
    assert len(reply.unknown) <= min(MAX_NAMED_UNKNOWN, reply.unknown_count)
    assert all(len(text) <= 300 for text in (*reply.unknown, *reply.problems))


def _check_goals(frame: str | bytes) -> None:
    goals = decodes_or_raises(parse_goals, frame, error=RemoteProtocolError)
    if isinstance(goals, Goals):
        for value in (*goals.motors.values(), *goals.disks.values()):
            assert type(value) is float and math.isfinite(value)


FRAMES = (st.binary(max_size=200) | st.text(max_size=200) |
          json_values(KEYS).map(json.dumps) |
          st.sampled_from([GOLDEN_REPLY, GOLDEN_GOALS]).map(json.dumps).flatmap(mutated))


@given(FRAMES)
def test_any_frame_the_server_receives_is_a_reply_or_the_remote_error(
        frame: str | bytes) -> None:
    _check_reply(frame)


@given(FRAMES)
def test_any_frame_the_client_receives_is_goals_or_the_remote_error(
        frame: str | bytes) -> None:
    _check_goals(frame)


@given(value=st.sampled_from([GOLDEN_REPLY, GOLDEN_GOALS]).flatmap(mutated_value),
       binary=st.booleans())
def test_mutated_golden_frames_decode_or_raise_the_remote_error(value: Any,
                                                                binary: bool) -> None:
    frame = json.dumps(value)
    _check_reply(frame.encode() if binary else frame)
    _check_goals(frame.encode() if binary else frame)


WIRE_NAMES = st.lists(ROS_TEXT, max_size=6, unique=True)


@given(motors=WIRE_NAMES, disks=WIRE_NAMES, data=st.data(), binary=st.booleans())
def test_goal_frames_round_trip_exactly(motors: list[str], disks: list[str],
                                        data: st.DataObject, binary: bool) -> None:
    goals = data.draw(st.lists(FINITE | st.integers(-2**53, 2**53),
                               min_size=len(motors) + len(disks),
                               max_size=len(motors) + len(disks)))
    frame = GoalEncoder(motors, disks).encode(goals, binary)
    assert isinstance(frame, bytes if binary else str)
    decoded = parse_goals(frame)
    assert decoded == Goals(dict(zip(motors, map(float, goals))),
                            dict(zip(disks, map(float, goals[len(motors):]))))


@given(names=st.lists(ANY_TEXT, max_size=4), goals=st.lists(NUMBERS, max_size=5),
       binary=st.booleans())
def test_any_goals_encode_or_raise_the_local_error(names: list[str], goals: list[Any],
                                                   binary: bool) -> None:
    frame = decodes_or_raises(GoalEncoder(names).encode, goals, binary,
                              error=LocalProtocolError)
    if isinstance(frame, LocalProtocolError):
        return
    assert len(goals) == len(names)
    decoded = decodes_or_raises(parse_goals, frame, error=RemoteProtocolError)
    if isinstance(decoded, RemoteProtocolError):  # a name ROS strings cannot carry
        assert not all(ros_text(name) for name in names)
    else:
        assert decoded.motors == {n: float(g) for n, g in zip(names, goals)}


OPTIONAL_FORCE = st.none() | FINITE
OPTIONAL_EYE = st.none() | st.binary(max_size=40).map(lambda b: b64_jpeg(b'\xff\xd8' + b))


@given(present=st.dictionaries(ROS_TEXT, FINITE | st.integers(-2**53, 2**53), max_size=6),
       eyes=st.tuples(OPTIONAL_EYE, OPTIONAL_EYE),
       forces=st.tuples(OPTIONAL_FORCE, OPTIONAL_FORCE), unknown=st.sets(ROS_TEXT, max_size=3))
def test_replies_round_trip_exactly(present: dict[str, float],
                                    eyes: tuple[str | None, str | None],
                                    forces: tuple[float | None, float | None],
                                    unknown: set[str]) -> None:
    known = set(present) - unknown
    frame = encode_reply(present, left_eye=eyes[0], right_eye=eyes[1], left_force=forces[0],
                         right_force=forces[1])
    reply = parse_reply(frame, known)
    assert reply.present == {name: float(v) for name, v in present.items() if name in known}
    assert reply.unknown_count == len(set(present) - known)
    assert (reply.left_eye, reply.right_eye) == tuple(
        None if eye is None else base64.b64decode(eye) for eye in eyes)
    assert (reply.left_force, reply.right_force) == forces and reply.problems == ()


@given(present=st.dictionaries(ANY_TEXT, NUMBERS, max_size=4),
       forces=st.tuples(st.none() | NUMBERS, st.none() | NUMBERS),
       eye=st.none() | ANY_TEXT)
def test_any_reply_encodes_or_raises_the_local_error(present: dict[str, Any],
                                                     forces: tuple[Any, Any],
                                                     eye: str | None) -> None:
    frame = decodes_or_raises(encode_reply, present, left_eye=eye, left_force=forces[0],
                              right_force=forces[1], error=LocalProtocolError)
    if isinstance(frame, LocalProtocolError):
        numbers = [*present.values(), *(f for f in forces if f is not None)]
        assert not all(_finite(v) for v in numbers)
        return
    _check_reply(frame)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@given(index=st.integers(0, len(DEFAULT_JOINTS) - 1),
       value=st.floats(-1e6, 1e6, allow_nan=False))
def test_joint_table_converts_both_ways(index: int, value: float) -> None:
    joint = DEFAULT_JOINTS[index]
    assert joint.to_joint(joint.to_motor(value)) == pytest.approx(value, abs=1e-9)
    assert joint.to_motor(joint.to_joint(value)) == pytest.approx(value, abs=1e-9)
    assert joint.min_deg <= joint.clamp(value) <= joint.max_deg
