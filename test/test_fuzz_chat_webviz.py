"""
Property tests of the Robot Chat and webViz decoders and encoders (hypothesis).

For arbitrary bytes, arbitrary JSON and mutations of valid frames, the only outcomes are a
typed value or the module's own protocol error; encode/decode round trips hold.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, strategies as st
import pytest
from robot_bridges.protocols import robot_chat, webviz
from robot_bridges.protocols.errors import LocalProtocolError, RemoteProtocolError

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (st.lists(children, max_size=4) |
                      st.dictionaries(st.text(), children, max_size=4)),
    max_leaves=20)
pytestmark = pytest.mark.fuzz
VALID_CHAT = '{"type": "message", "user": "ann", "message": "hello"}'
VALID_PUSH = webviz.push_frame('micdata', webviz.micdata_payload(1.5, 3, 120), pretty=True)


@st.composite
def mutated(draw: Any, frame: str) -> str | bytes:
    """Return ``frame`` with a slice replaced, cut short, repeated or as raw bytes."""
    data = frame.encode()
    start = draw(st.integers(0, len(data)))
    end = draw(st.integers(start, len(data)))
    insert = draw(st.binary(max_size=12) | st.sampled_from(
        [b'[' * 2000, b'\\ud800', b'\\u0000', b'9' * 5000, b'NaN', b'1e999', b'"', b'{']))
    out = data[:start] + insert + data[end:]
    return out if draw(st.booleans()) else out.decode('utf-8', 'replace')


def _decodes_or_protocol_error(parse: Any, frame: Any) -> Any:
    try:
        return parse(frame)
    except RemoteProtocolError as exc:
        assert len(str(exc)) <= 300
        return exc


@given(st.binary(max_size=200) | st.text(max_size=200) | mutated(VALID_CHAT))
def test_chat_frames_decode_or_raise_the_protocol_error(frame: str | bytes) -> None:
    result = _decodes_or_protocol_error(robot_chat.parse_frame, frame)
    if isinstance(result, robot_chat.ChatObject):
        json.loads(result.text, parse_constant=_reject_constant)  # strict JSON published
        assert '\x00' not in result.kind


@given(JSON)
def test_chat_objects_round_trip(value: Any) -> None:
    text = json.dumps({'type': 'message', 'v': value}, allow_nan=False) \
        if _finite(value) else json.dumps({'type': 'message'})
    event = robot_chat.parse_frame(text)
    assert isinstance(event, robot_chat.ChatObject) and event.kind == 'message'
    assert robot_chat.encode_object(event.text, 'other') == text


@given(JSON)
def test_outbox_text_encodes_or_raises_the_local_error(value: Any) -> None:
    try:
        text = json.dumps(value)
    except ValueError:
        return
    try:
        frame = robot_chat.encode_object(text, 'message')
    except LocalProtocolError:
        assert not isinstance(value, dict)
        return
    assert json.loads(frame)['type'] == value.get('type', 'message')


@given(st.binary(max_size=200) | st.text(max_size=200) | mutated(VALID_PUSH))
def test_webviz_frames_decode_or_raise_the_protocol_error(frame: str | bytes) -> None:
    result = _decodes_or_protocol_error(webviz.parse_push, frame)
    if isinstance(result, webviz.Push):
        text, _ = webviz.compact_json(result.data)
        json.loads(text, parse_constant=_reject_constant)
        if result.module == webviz.MICDATA:
            _decodes_or_protocol_error(webviz.parse_micdata, result.data)


@given(JSON)
def test_micdata_of_any_shape_decodes_or_raises(value: Any) -> None:
    _decodes_or_protocol_error(webviz.parse_micdata, value)


@given(st.text(min_size=1, max_size=20), JSON)
def test_pushes_round_trip(module: str, data: Any) -> None:
    if not _finite(data):
        return
    for pretty in (False, True):
        push = webviz.parse_push(webviz.push_frame(module, data, pretty))
        assert push == webviz.Push(module, data)


def _reject_constant(name: str) -> None:
    raise AssertionError(f'non-strict JSON constant {name}')


def _finite(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True
