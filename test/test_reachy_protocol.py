"""robot_bridges.protocols.reachy against golden frames, both directions, and bad input."""

from __future__ import annotations

import base64
import json
import math

import pytest
from robot_bridges.protocols.reachy import (b64_jpeg, encode_reply, GoalEncoder, Goals,
                                            LocalProtocolError, parse_goals, parse_reply,
                                            RemoteProtocolError, Reply)

JPEG = b'\xff\xd8\xff\xe0' + b'jpeg body' + b'\xff\xd9'
KNOWN = {'left_arm.shoulder_pitch', 'head.left_antenna', 'head.disk_top'}
HUGE = '1' + '0' * 400  # an integer JSON carries and no float holds


def test_goal_frame_of_the_reference_server_binary_and_text() -> None:
    encoder = GoalEncoder(['left_arm.shoulder_pitch', 'head.left_antenna'],
                          ['head.disk_bottom'])
    frame = encoder.encode([90.0, -12.5, -60.0])
    assert isinstance(frame, bytes)
    assert json.loads(frame) == {
        'motors': [{'name': 'left_arm.shoulder_pitch', 'goal_position': 90.0},
                   {'name': 'head.left_antenna', 'goal_position': -12.5}],
        'disks': [{'name': 'head.disk_bottom', 'goal_position': -60.0}]}
    text = encoder.encode([1, 2.0, 3e-7], binary=False)
    assert isinstance(text, str)
    assert parse_goals(text) == Goals({'left_arm.shoulder_pitch': 1.0, 'head.left_antenna': 2.0},
                                      {'head.disk_bottom': 3e-7})


def test_goal_frame_without_disks() -> None:
    frame = GoalEncoder(['head.left_antenna']).encode([5.0], binary=False)
    assert json.loads(frame) == {'motors': [{'name': 'head.left_antenna',
                                             'goal_position': 5.0}], 'disks': []}


@pytest.mark.parametrize('goals, match', [([1.0], 'expected 2 goals'),
                                          ([1.0, math.nan], 'not finite'),
                                          ([math.inf, 1.0], 'not finite')])
def test_goal_encoder_refuses_what_the_caller_got_wrong(goals: list[float], match: str) -> None:
    with pytest.raises(LocalProtocolError, match=match):
        GoalEncoder(['a', 'b']).encode(goals)


def test_reply_of_the_unity_client() -> None:
    frame = json.dumps({
        'motors': [{'name': 'left_arm.shoulder_pitch', 'present_position': 12.5},
                   {'name': 'head.left_antenna', 'present_position': -3}],
        'left_eye': base64.b64encode(JPEG).decode(), 'right_eye': b64_jpeg(JPEG + b'x'),
        'left_force_sensor': 0.0, 'right_force_sensor': 2})
    assert parse_reply(frame, KNOWN) == Reply(
        {'left_arm.shoulder_pitch': 12.5, 'head.left_antenna': -3.0}, JPEG, JPEG + b'x',
        0.0, 2.0)


def test_reply_with_only_motors_and_as_bytes() -> None:
    reply = parse_reply(b'{"motors":[]}', KNOWN)
    assert reply == Reply({})
    assert reply.left_eye is None and reply.left_force is None


def test_encode_reply_round_trip() -> None:
    eye = b64_jpeg(JPEG)
    frame = encode_reply({'head.left_antenna': 4.0, 'head.disk_top': -60.0}, left_eye=eye,
                         right_force=1.5)
    assert json.loads(frame) == {
        'motors': [{'name': 'head.left_antenna', 'present_position': 4.0},
                   {'name': 'head.disk_top', 'present_position': -60.0}],
        'left_eye': eye, 'right_force_sensor': 1.5}
    reply = parse_reply(frame, KNOWN)
    assert reply.present == {'head.left_antenna': 4.0, 'head.disk_top': -60.0}
    assert (reply.left_eye, reply.right_eye, reply.left_force, reply.right_force) == \
        (JPEG, None, None, 1.5)
    with pytest.raises(LocalProtocolError):
        encode_reply({'a': math.nan})


def test_disk_positions_in_a_disks_array_are_read_too() -> None:
    reply = parse_reply('{"motors":[],"disks":[{"name":"head.disk_top",'
                        '"present_position":-50}]}', KNOWN)
    assert reply.present == {'head.disk_top': -50.0}


def test_unknown_names_are_skipped_and_reported_bounded() -> None:
    motors = [{'name': f'tail.{i}', 'present_position': i} for i in range(10)]
    motors.append({'name': 'head.left_antenna', 'present_position': 7})
    motors.append({'name': 'x' * 10_000, 'present_position': 1})
    reply = parse_reply(json.dumps({'motors': motors}), KNOWN)
    assert reply.present == {'head.left_antenna': 7.0}
    assert reply.unknown_count == 11
    assert reply.unknown == ("'tail.0'", "'tail.1'", "'tail.2'", "'tail.3'")


@pytest.mark.parametrize('frame, match', [
    ('not json', 'not JSON'),
    (b'\xff\xfe', 'not UTF-8'),
    ('[1, 2]', 'not an object'),
    ('{}', 'no "motors"'),
    ('{"motors": {"a": 1}}', '"motors", not an array'),
    ('{"motors": [1]}', 'not an object'),
    ('{"motors": [{"present_position": 1}]}', '"name" is not a string'),
    ('{"motors": [], "disks": 3}', '"disks", not an array'),
    ('[' * 100_000 + ']' * 100_000, 'nested too deeply'),
    ('{"motors": [{"name": "a\\u0000", "present_position": 1}]}', 'NUL'),
])
def test_unusable_replies_raise_remote_errors(frame: str | bytes, match: str) -> None:
    with pytest.raises(RemoteProtocolError, match=match):
        parse_reply(frame, KNOWN)


@pytest.mark.parametrize('extra, problem', [
    ({'left_eye': 5}, 'left_eye is a JSON number, not a base64 string'),
    ({'right_eye': 'not base64!'}, 'right_eye is not base64'),
    ({'left_eye': 'QUJD'}, "left_eye is not a JPEG (starts with b'ABC')"),
    ({'left_eye': 'é'}, 'left_eye is not base64'),
    ({'left_force_sensor': 'high'}, "left_force_sensor 'high' is not a finite number"),
    ({'right_force_sensor': [1]}, 'right_force_sensor [1] is not a finite number'),
])
def test_bad_eyes_and_forces_are_skipped_and_named(extra: dict[str, object],
                                                   problem: str) -> None:
    motors = [{'name': 'head.left_antenna', 'present_position': 1.0}]
    reply = parse_reply(json.dumps({'motors': motors, **extra}), KNOWN)
    assert reply.present == {'head.left_antenna': 1.0}
    assert (reply.left_eye, reply.right_eye) == (None, None)
    assert (reply.left_force, reply.right_force) == (None, None)
    assert len(reply.problems) == 1 and reply.problems[0].startswith(problem)


@pytest.mark.parametrize('position', ['"1"', 'true', 'NaN', '1e999', '-Infinity', 'null', HUGE])
def test_a_position_that_is_not_a_finite_number_is_skipped_not_the_reply(position: str) -> None:
    # Unity's JsonUtility writes a NaN float as NaN: one glitching joint must not cost the
    # eyes, the forces and the other joints of that reply.
    frame = ('{"motors": [{"name": "head.left_antenna", "present_position": %s}, '
             '{"name": "left_arm.shoulder_pitch", "present_position": 12.5}], '
             '"left_force_sensor": 150.0}' % position)
    reply = parse_reply(frame, KNOWN)
    assert reply.present == {'left_arm.shoulder_pitch': 12.5}
    assert reply.left_force == 150.0 and reply.bad_positions == 1
    assert reply.problems == (f"motor 'head.left_antenna': present_position "
                              f"{reply.problems[0].split('present_position ')[1]}",)
    assert reply.problems[0].endswith('is not a finite number')
    # Many of them: all counted, a few named.
    many = json.dumps({'motors': [{'name': 'head.left_antenna', 'present_position': None}] * 50})
    reply = parse_reply(many, KNOWN)
    assert reply.bad_positions == 50 and len(reply.problems) == 4


def test_an_empty_eye_is_what_unity_sends_before_its_first_render() -> None:
    reply = parse_reply('{"motors": [], "left_eye": "", "right_eye": ""}', KNOWN)
    assert reply == Reply({})


def test_null_eyes_and_forces_count_as_absent() -> None:
    reply = parse_reply('{"motors":[],"left_eye":null,"left_force_sensor":null}', KNOWN)
    assert reply == Reply({})


@pytest.mark.parametrize('frame, match', [
    ('{"disks": []}', 'no "motors"'),
    ('{"motors": [{"name": "a", "goal_position": null}]}', 'not a finite number'),
    ('{"motors": ["a"]}', 'not an object'),
    ('{"motors": [{"name": 1, "goal_position": 1}]}', '"name" is not a string'),
])
def test_unusable_goal_frames_raise_remote_errors(frame: str, match: str) -> None:
    with pytest.raises(RemoteProtocolError, match=match):
        parse_goals(frame)


@pytest.mark.parametrize('frame', [
    '{"motors": [{"name": "head.left_antenna", "present_position": %s}]}' % HUGE,
    '{"motors": [], "disks": [{"name": "head.disk_top", "present_position": -%s}]}' % HUGE,
])
def test_integers_beyond_any_float_are_not_finite_numbers(frame: str) -> None:
    # Found by test_fuzz_reachy.py: math.isfinite and float() raised OverflowError.
    reply = parse_reply(frame, KNOWN)
    assert reply.present == {} and 'not a finite number' in reply.problems[0]
    with pytest.raises(RemoteProtocolError, match='not a finite number'):
        parse_goals(frame.replace('present_position', 'goal_position'))
    reply = parse_reply('{"motors": [], "left_force_sensor": %s}' % HUGE, KNOWN)
    assert reply.left_force is None and 'left_force_sensor' in reply.problems[0]
    with pytest.raises(LocalProtocolError, match='not finite'):
        GoalEncoder(['a']).encode([int(HUGE)])
    with pytest.raises(LocalProtocolError, match='not a finite number'):
        encode_reply({'a': int(HUGE)})
