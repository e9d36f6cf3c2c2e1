"""robot_bridges.protocols.robot_chat against golden frames, both directions."""

import json

import pytest
from robot_bridges.protocols.robot_chat import (ChatObject, encode_object, LocalProtocolError,
                                                parse_frame, RemoteProtocolError, users_frame,
                                                UsersCount)

MESSAGE = '{"type": "message", "user": "ann", "message": "hello"}'


def test_users_count_frame_of_the_reference_server() -> None:
    assert parse_frame('{"type": "users", "count": 3}') == UsersCount(3)
    assert users_frame(2) == '{"type": "users", "count": 2}'
    assert parse_frame(users_frame(0)) == UsersCount(0)


def test_chat_object_keeps_the_frame_text_verbatim() -> None:
    pretty = '{\n  "type": "message",\n  "message": "hi"\n}'
    assert parse_frame(MESSAGE) == ChatObject('message', MESSAGE)
    assert parse_frame(pretty) == ChatObject('message', pretty)


def test_object_without_type_or_with_non_string_type_has_empty_type() -> None:
    assert parse_frame('{"a": 1}') == ChatObject('', '{"a": 1}')
    assert parse_frame('{"type": 5}') == ChatObject('', '{"type": 5}')


def test_binary_frame_holding_utf8_json_is_accepted() -> None:
    assert parse_frame('{"type": "é"}'.encode()) == ChatObject('é', '{"type": "é"}')


@pytest.mark.parametrize('frame, reason', [
    ('not json', 'not JSON'),
    ('[1, 2]', 'JSON array, not an object'),
    ('42', 'JSON number, not an object'),
    ('"text"', 'JSON string, not an object'),
    ('null', 'JSON null, not an object'),
    (b'\xff\xfe{', 'not UTF-8'),
    ('', 'not JSON'),
    ('{"type": "users", "count": -1}', 'invalid count -1'),
    ('{"type": "users", "count": "2"}', "invalid count '2'"),
    ('{"type": "users", "count": true}', 'invalid count True'),
    ('{"type": "users"}', 'invalid count None'),
])
def test_bad_frames_are_remote_protocol_errors(frame: str | bytes, reason: str) -> None:
    with pytest.raises(RemoteProtocolError, match=reason):
        parse_frame(frame)


def test_encode_keeps_an_object_that_has_a_type_verbatim() -> None:
    assert encode_object(MESSAGE, 'other') == MESSAGE


def test_encode_adds_the_type_hint_only_when_missing() -> None:
    frame = encode_object('{"message": "hi"}', 'message')
    assert json.loads(frame) == {'message': 'hi', 'type': 'message'}
    assert encode_object('{"message": "hi"}', '') == '{"message": "hi"}'


@pytest.mark.parametrize('text', ['nope', '[1]', '1', '"s"', ''])
def test_encode_rejects_non_objects(text: str) -> None:
    with pytest.raises(LocalProtocolError):
        encode_object(text, 'message')


@pytest.mark.parametrize('frame', [
    '{"type": "chat", "m": ' + '[' * 1000 + ']' * 1000 + '}',
    '{"type": "\\ud800"}', '{"type": "a\\u0000"}',
    '{"type": "users", "count": ' + '9' * 5000 + '}',
    '{"type": "users", "count": "' + 'x' * 1_000_000 + '"}',
])
def test_hostile_frames_raise_only_the_protocol_error(frame: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_frame(frame)
    assert len(str(info.value)) <= 200


def test_frames_with_non_finite_numbers_are_passed_on_as_strict_json() -> None:
    assert parse_frame('{"type": "m", "x": NaN, "y": 1e999}') == ChatObject(
        'm', '{"type":"m","x":null,"y":null}', 2)
    # Strings the ROS type field does not hold stay escaped in the verbatim text.
    frame = '{"type": "m", "t": "a\\u0000\\ud800"}'
    assert parse_frame(frame) == ChatObject('m', frame)


def test_deep_outbox_json_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError, match='nested too deeply'):
        encode_object('{"a": ' + '[' * 5000 + ']' * 5000 + '}', 'message')
