"""
Property tests of the Robot Chat and webViz decoders and encoders (hypothesis).

For arbitrary bytes, arbitrary JSON and mutations of valid frames, the only outcomes are a
typed value or the module's own protocol error; encode/decode round trips hold, both ways
(the bridge's side and the robot's or server's side the simulators use).
"""

from __future__ import annotations

import json
from typing import Any

from fuzz_strategies import (ANY_TEXT, decodes_or_raises, JSON, json_values, mutated,
                             mutated_value, ros_text)
from hypothesis import given, strategies as st
import pytest
from robot_bridges.protocols import robot_chat, webviz
from robot_bridges.protocols.errors import LocalProtocolError, RemoteProtocolError

pytestmark = pytest.mark.fuzz
VALID_CHAT = '{"type": "message", "user": "ann", "message": "hello"}'
VALID_USERS = robot_chat.users_frame(3)
VALID_PUSH = webviz.push_frame('micdata', webviz.micdata_payload(1.5, 3, 120), pretty=True)
VALID_REQUESTS = [webviz.subscribe_frame('micdata'), webviz.keepalive_frame(),
                  webviz.data_frame('intents', '{"intentType": "user", "request": "x"}')]
MICDATA_KEYS = st.sampled_from(['time', 'confidence', 'dominant', 'direction', 'directions',
                                'triggerDetected', 'activeState', 'module', 'data', 'type',
                                'keepalive', 'count'])
FINITE = st.floats(allow_nan=False, allow_infinity=False)


@given(st.binary(max_size=200) | st.text(max_size=200) |
       st.sampled_from([VALID_CHAT, VALID_USERS]).flatmap(mutated) |
       st.sampled_from([json.loads(VALID_CHAT), json.loads(VALID_USERS)]).flatmap(
           mutated_value).map(json.dumps))
def test_chat_frames_decode_or_raise_the_protocol_error(frame: str | bytes) -> None:
    result = decodes_or_raises(robot_chat.parse_frame, frame, error=RemoteProtocolError)
    if isinstance(result, robot_chat.ChatObject):
        json.loads(result.text, parse_constant=_reject_constant)  # strict JSON published
        assert ros_text(result.kind) and result.nulled >= 0
    elif isinstance(result, robot_chat.UsersCount):
        assert 0 <= result.count < 2**32
    else:
        assert isinstance(result, RemoteProtocolError)


@given(JSON)
def test_chat_objects_round_trip(value: Any) -> None:
    text = json.dumps({'type': 'message', 'v': value}, allow_nan=False) \
        if _finite(value) else json.dumps({'type': 'message'})
    event = robot_chat.parse_frame(text)
    assert isinstance(event, robot_chat.ChatObject) and event.kind == 'message'
    assert robot_chat.encode_object(event.text, 'other') == text


@given(st.integers(0, 2**32 - 1))
def test_users_frames_round_trip(count: int) -> None:
    assert robot_chat.parse_frame(robot_chat.users_frame(count)) == robot_chat.UsersCount(count)


@given(value=JSON, hint=ANY_TEXT)
def test_outbox_text_encodes_or_raises_the_local_error(value: Any, hint: str) -> None:
    try:
        text = json.dumps(value)
    except ValueError:
        return
    frame = decodes_or_raises(robot_chat.encode_object, text, hint, error=LocalProtocolError)
    if isinstance(frame, LocalProtocolError):
        assert not isinstance(value, dict)
        return
    expected = value.get('type', hint) if hint else value.get('type')
    assert json.loads(frame).get('type') == expected


@given(st.binary(max_size=200) | st.text(max_size=200) | mutated(VALID_PUSH) |
       st.just(json.loads(VALID_PUSH)).flatmap(mutated_value).map(json.dumps))
def test_webviz_frames_decode_or_raise_the_protocol_error(frame: str | bytes) -> None:
    result = decodes_or_raises(webviz.parse_push, frame, error=RemoteProtocolError)
    if isinstance(result, webviz.Push):
        assert type(result.module) is str and result.module
        text, _ = webviz.compact_json(result.data)
        json.loads(text, parse_constant=_reject_constant)
        if result.module == webviz.MICDATA:
            _check_micdata(result.data)
    else:
        assert isinstance(result, (webviz.KeepaliveAck, RemoteProtocolError))


@given(json_values(MICDATA_KEYS) |
       st.just(webviz.micdata_payload(1.5, 3, 120)).flatmap(mutated_value))
def test_micdata_of_any_shape_decodes_or_raises(value: Any) -> None:
    _check_micdata(value)


def _check_micdata(value: Any) -> None:
    result = decodes_or_raises(webviz.parse_micdata, value, error=RemoteProtocolError)
    if isinstance(result, webviz.MicData):
        assert 0 <= result.direction <= webviz.DIRECTION_UNKNOWN
        assert len(result.directions) in (0, webviz.CONFIDENCE_COUNT)
        assert type(result.trigger_detected) is bool


@given(robot_time=FINITE, direction=st.integers(0, webviz.DIRECTION_UNKNOWN),
       confidence=st.integers(-2**31, 2**31 - 1), field=st.sampled_from(webviz.DIRECTION_FIELDS),
       trigger=st.booleans(), active_state=st.integers(-2**31, 2**31 - 1),
       directions=st.lists(st.floats(-1e38, 1e38) | st.integers(-2**24, 2**24),
                           min_size=webviz.CONFIDENCE_COUNT, max_size=webviz.CONFIDENCE_COUNT),
       pretty=st.booleans())
def test_micdata_round_trips(robot_time: float, direction: int, confidence: int, field: str,
                             trigger: bool, active_state: int, directions: list[float],
                             pretty: bool) -> None:
    payload = webviz.micdata_payload(robot_time, direction, confidence, field=field,
                                     trigger_detected=trigger, active_state=active_state,
                                     directions=directions)
    push = webviz.parse_push(webviz.push_frame(webviz.MICDATA, payload, pretty))
    assert push == webviz.Push(webviz.MICDATA, payload)
    assert webviz.parse_micdata(push.data) == webviz.MicData(
        robot_time, direction, confidence, directions, trigger, active_state,
        selected_direction=direction, max_confidence=float(confidence), delay_time_ms=0,
        latest_power_value=0.0, latest_noise_floor=0.0, beat_confidence=-1.0,
        beat_tempo_bpm=-1.0)


@given(st.text(min_size=1, max_size=20), JSON)
def test_pushes_round_trip(module: str, data: Any) -> None:
    if not _finite(data):
        return
    for pretty in (False, True):
        push = webviz.parse_push(webviz.push_frame(module, data, pretty))
        assert push == webviz.Push(module, data)


@given(st.binary(max_size=200) | st.text(max_size=200) |
       st.sampled_from(VALID_REQUESTS).flatmap(lambda f: mutated(f, as_text=True)) |
       st.sampled_from(VALID_REQUESTS).map(json.loads).flatmap(mutated_value).map(json.dumps))
def test_any_request_the_robot_receives_is_one_or_ignored(frame: str | bytes) -> None:
    request = webviz.parse_request(frame)  # the robot ignores what it cannot use
    kinds = (webviz.Subscribe, webviz.Unsubscribe, webviz.DataRequest, webviz.Keepalive)
    assert request is None or isinstance(request, kinds)


@given(module=ANY_TEXT, data=st.dictionaries(ANY_TEXT, JSON, max_size=4))
def test_client_frames_round_trip_or_raise_the_local_error(module: str,
                                                           data: dict[str, Any]) -> None:
    frames = [decodes_or_raises(build, module, error=LocalProtocolError)
              for build in (webviz.subscribe_frame, webviz.unsubscribe_frame)]
    text = json.dumps(data)  # NaN stays NaN here: data_frame must make it strict
    frames.append(decodes_or_raises(webviz.data_frame, module, text, error=LocalProtocolError))
    if not module:
        assert all(isinstance(f, LocalProtocolError) for f in frames)
        return
    subscribe, unsubscribe, request = frames
    assert webviz.parse_request(subscribe) == webviz.Subscribe(module)
    assert webviz.parse_request(unsubscribe) == webviz.Unsubscribe(module)
    if module in webviz.REQUEST_STRINGS and isinstance(request, LocalProtocolError):
        return  # a module whose handler needs string fields (tested below)
    assert isinstance(request, str), f'a JSON object was refused: {request}'
    json.loads(request, parse_constant=_reject_constant)
    parsed = webviz.parse_request(request)
    assert isinstance(parsed, webviz.DataRequest) and parsed.module == module
    if _finite(data):
        assert parsed.data == data
    assert webviz.parse_request(webviz.keepalive_frame()) == webviz.Keepalive()


@given(text=ANY_TEXT | JSON.map(json.dumps) | mutated(VALID_REQUESTS[2], as_text=True))
def test_any_request_text_encodes_or_raises_the_local_error(text: str) -> None:
    frame = decodes_or_raises(webviz.data_frame, 'intents', text, error=LocalProtocolError)
    if isinstance(frame, str):
        assert isinstance(webviz.parse_request(frame), (webviz.DataRequest, type(None)))


@given(module=st.sampled_from(sorted(webviz.REQUEST_STRINGS)),
       data=st.dictionaries(st.sampled_from(['intentType', 'request', 'behaviorName', 'type',
                                             'animation', 'other']), JSON, max_size=4) | JSON)
def test_no_request_the_engine_could_crash_on_leaves_the_bridge(module: str, data: Any) -> None:
    frame = decodes_or_raises(webviz.data_frame, module, json.dumps(data),
                              error=LocalProtocolError)
    if isinstance(frame, str):
        sent = json.loads(frame)['data']
        assert isinstance(sent, dict)
        assert all(type(sent[name]) is str for name in webviz.REQUEST_STRINGS[module])


@given(host=ANY_TEXT | st.sampled_from(['127.0.0.1', '::1', 'robot.local']),
       port=st.integers(-10, 70_000) | st.sampled_from([2**64]),
       path=ANY_TEXT | st.sampled_from(['/socket', '/']))
def test_urls_are_built_or_raise_the_local_error(host: str, port: int, path: str) -> None:
    built = decodes_or_raises(webviz.url, host, port, path, error=LocalProtocolError)
    if isinstance(built, str):
        assert built.startswith('ws://') and built.endswith(f':{port}{path}')
        assert 0 < port < 65536 and path.startswith('/')


def _reject_constant(name: str) -> None:
    raise AssertionError(f'non-strict JSON constant {name}')


def _finite(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True
