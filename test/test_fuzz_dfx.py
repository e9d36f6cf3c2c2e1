"""
Property tests of the DFX protocol module, both dialects (hypothesis; profile: conftest.py).

Bridge side: any received frame gives a Response or a RemoteProtocolError, and any
response's body a StatusBody / Result or a RemoteProtocolError. Simulator side: any request
gives a Request or a BadRequest. Frames are arbitrary, or golden frames mutated byte by byte,
or JSON bodies mutated value by value, or protobuf messages with arbitrary field values.
Every encoder raises only LocalProtocolError, and what it writes decodes to what it was
given: requests (JSON and protobuf bodies), responses, status and error bodies, results.
"""

from __future__ import annotations

import base64
import json
import random
import struct
from typing import Any

from fuzz_strategies import (ANY_TEXT, decodes_or_raises, JSON, mutated, mutated_value,
                             ros_text)
from hypothesis import given, strategies as st
import pytest
from robot_bridges.protocols import dfx, dfx_service
from robot_bridges.protocols.dfx import (AddData, LocalProtocolError, RemoteProtocolError,
                                         Response, Result, StatusBody)
from robot_bridges.protocols.dfx_proto import adddata_pb2, subscribe_pb2
from robot_bridges.protocols.dfx_service import (Authenticate, BadRequest, ReceivedChunk,
                                                 Request, SubscribeResults)

pytestmark = pytest.mark.fuzz

# Golden frames of test_dfx_protocol.py (requests as the bridge sends them, responses as
# the service sends them).
GOLDEN_V1_ADD_DATA = (b'0506abcd000001\x0a\x04\x0a\x02m1\x12\x0eFIRST::PROCESS\x20\x05\x28'
                      b'\x14\x35\x00\x00\x70\x41\x3a\x02\x01\x02\x42\x02{}')
GOLDEN_V1_SUBSCRIBE = b'0510abcd000002\x0a\x04\x0a\x02m1\x12\x0aabcd000002'
GOLDEN_V2_ADD_DATA = (
    '0506abcd000001{"Params":{"ID":"m1"},"Action":"FIRST::PROCESS","ChunkOrder":0,'
    '"StartTime":5,"EndTime":20,"Duration":15.0,"Payload":"AQI=","Meta":"e30="}')
GOLDEN_V2_SUBSCRIBE = '0510abcd000002{"Params":{"ID":"m1"},"RequestID":"abcd000002"}'
GOLDEN_V2_AUTH = '0718abcd000003{"Token":"s3cr3t-token"}'
GOLDEN_V1_AUTH = b'0718abcd000003\x0a\x0cs3cr3t-token'
GOLDEN_REQUESTS = {dfx.PROTOBUF: [GOLDEN_V1_ADD_DATA, GOLDEN_V1_SUBSCRIBE, GOLDEN_V1_AUTH],
                   dfx.JSON: [GOLDEN_V2_ADD_DATA, GOLDEN_V2_SUBSCRIBE, GOLDEN_V2_AUTH]}
RESULT_BODY = {'RequestID': 'abcd000002', 'MeasurementDataID': 'm1:3', 'Error': {'Code': 'OK'},
               'Multiplier': 1000,
               'Channels': {'HR_BPM': {'Data': [72000, 72500], 'Notes': []},
                            'SNR': {'Data': [1.5]}}}
GOLDEN_RESPONSES = [
    b'abcd000002200',
    b'abcd000001200\x0a\x02m1\x10\x03',
    b'abcd000001200{"ID":"m1","ChunkOrder":3}',
    b'abcd000009400{"Code":"MEASUREMENT_CLOSED","Errors":["the measurement time limit"]}',
    b'abcd000002200' + json.dumps(RESULT_BODY).encode(),
    b'abcd000002200' + dfx_service.result_body(dfx.PROTOBUF, 'abcd000002', 'm1', 3,
                                               {'HR_BPM': [72000, -1]}, 1000, 'r1'),
]
JSON_BODIES = [json.loads(frame[14:]) for frame in GOLDEN_REQUESTS[dfx.JSON]] + [
    RESULT_BODY, {'ID': 'm1', 'ChunkOrder': 3}, {'Code': 'X', 'Errors': ['e']}]
DIALECT = st.sampled_from(dfx.DIALECTS)
REQUEST_ID = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=10,
                     max_size=10)
MEASUREMENT_ID = st.text(min_size=1, max_size=dfx.MAX_MEASUREMENT_ID).filter(str.isprintable)
U32, U64 = st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1)
FLOAT32 = st.floats(0.0, dfx.FLOAT32_MAX, width=32)
VALID_CHUNKS = st.builds(AddData, MEASUREMENT_ID, U32, st.sampled_from(dfx.CHUNK_ACTIONS),
                         U64, U64, FLOAT32, st.binary(max_size=64), st.binary(max_size=16))
# Any values of the declared types, most of them invalid.
ANY_INT = st.integers() | st.sampled_from([-1, 2**32, 2**64, 10**400])
ANY_CHUNKS = st.builds(AddData, ANY_TEXT, ANY_INT, ANY_TEXT | st.sampled_from(dfx.CHUNK_ACTIONS),
                       ANY_INT, ANY_INT,
                       st.floats() | st.sampled_from([10**400, 3.5e38, -0.0]),
                       st.binary(max_size=16), st.binary(max_size=16))


def _check_response(frame: str | bytes, dialect: str) -> None:
    response = decodes_or_raises(dfx.parse_response, frame, error=RemoteProtocolError)
    if isinstance(response, RemoteProtocolError):
        return
    assert isinstance(response, Response) and 0 <= response.status <= 999
    assert len(response.request_id) == dfx.ID_LENGTH and response.request_id.isascii()
    status = decodes_or_raises(dfx.parse_status_body, dialect, response,
                               error=RemoteProtocolError)
    if isinstance(status, StatusBody):
        assert status.error_code and isinstance(status.text, str)
        assert status.chunk_order is None or 0 <= status.chunk_order < 2**32
    result = decodes_or_raises(dfx.parse_result, dialect, response, error=RemoteProtocolError)
    if isinstance(result, Result):
        # v2: the JSON body; v1: the decoded message as JSON and the body as received.
        assert result.json and result.raw == (response.body if dialect == dfx.PROTOBUF else b'')
        assert all(type(v) is float for signal in result.signals for v in signal.data)
        assert type(result.multiplier) is float and result.chunk_order >= -1


def _check_request(dialect: str, frame: str | bytes) -> None:
    try:
        request = dfx_service.parse_request(dialect, frame)
    except BadRequest as exc:  # the only error the simulator side raises
        assert exc.request_id == '' or len(exc.request_id) == dfx.ID_LENGTH
        assert len(str(exc)) <= 300
        return
    assert isinstance(request, Request) and request.action in dfx.ACTIONS
    if isinstance(request.body, ReceivedChunk):
        assert request.body.problem() == ''
    elif isinstance(request.body, SubscribeResults):
        assert dfx.measurement_id_problem(request.body.measurement_id) == ''
    else:
        assert isinstance(request.body, Authenticate) and request.body.token


@given(frame=st.binary(max_size=200) | st.text(max_size=200) |
       st.binary(max_size=60).map(lambda b: b'abcd000001200' + b) |
       st.binary(max_size=60).map(lambda b: b'abcd000001400' + b) |
       st.sampled_from(GOLDEN_RESPONSES).flatmap(mutated), dialect=DIALECT)
def test_received_frames_decode_or_raise_the_remote_error(frame: str | bytes,
                                                          dialect: str) -> None:
    _check_response(frame, dialect)


@given(body=st.sampled_from(JSON_BODIES).flatmap(mutated_value) | JSON,
       status=st.sampled_from([200, 204, 400, 404, 500]), dialect=DIALECT)
def test_mutated_json_bodies_decode_or_raise_the_remote_error(body: Any, status: int,
                                                              dialect: str) -> None:
    _check_response(b'abcd000001%d' % status + json.dumps(body).encode(), dialect)


@given(data=st.data(), dialect=DIALECT)
def test_requests_decode_or_raise_bad_request(data: st.DataObject, dialect: str) -> None:
    frame = data.draw(
        st.binary(max_size=200) | st.text(max_size=200) |
        st.tuples(st.sampled_from(dfx.ACTIONS + ('9999', '05\x0006')),
                  REQUEST_ID | ANY_TEXT, st.binary(max_size=60)).map(
            lambda t: t[0].encode() + t[1].encode('utf-8', 'surrogatepass') + t[2]) |
        st.sampled_from(GOLDEN_REQUESTS[dialect]).flatmap(mutated))
    _check_request(dialect, frame)


@given(body=st.sampled_from(JSON_BODIES).flatmap(mutated_value) | JSON,
       action=st.sampled_from(dfx.ACTIONS))
def test_mutated_json_requests_decode_or_raise_bad_request(body: Any, action: str) -> None:
    _check_request(dfx.JSON, f'{action}abcd000001{json.dumps(body)}')


@given(measurement_id=ANY_TEXT, action=ANY_TEXT | st.sampled_from(dfx.CHUNK_ACTIONS),
       numbers=st.tuples(U32, U64, U64), duration=st.floats(width=32),
       payload=st.binary(max_size=32), request_id=ANY_TEXT, subscribe=st.booleans())
def test_protobuf_messages_of_any_field_values_decode_or_raise_bad_request(
        measurement_id: str, action: str, numbers: tuple[int, int, int], duration: float,
        payload: bytes, request_id: str, subscribe: bool) -> None:
    try:
        if subscribe:
            message: Any = subscribe_pb2.SubscribeResultsRequest(RequestID=request_id)
        else:
            message = adddata_pb2.DataRequest(
                Action=action, ChunkOrder=numbers[0], StartTime=numbers[1],
                EndTime=numbers[2], Duration=duration, Payload=payload)
        message.Params.ID = measurement_id
        body = message.SerializeToString()
    except ValueError:  # protobuf itself refuses a string with a lone surrogate
        return
    action_code = dfx.SUBSCRIBE_RESULTS if subscribe else dfx.ADD_DATA
    _check_request(dfx.PROTOBUF, action_code.encode() + b'abcd000001' + body)


@given(chunk=VALID_CHUNKS, request_id=REQUEST_ID, dialect=DIALECT)
def test_add_data_round_trips(chunk: AddData, request_id: str, dialect: str) -> None:
    frame = dfx.encode_add_data(dialect, request_id, chunk)
    assert isinstance(frame, bytes if dialect == dfx.PROTOBUF else str)
    expected = Request(dfx.ADD_DATA, request_id, dfx_service.as_received(chunk, dialect))
    assert dfx_service.parse_request(dialect, frame) == expected


@given(measurement_id=MEASUREMENT_ID, request_id=REQUEST_ID, dialect=DIALECT,
       token=st.text(min_size=1, max_size=40))
def test_subscribe_and_authenticate_round_trip(measurement_id: str, request_id: str,
                                               dialect: str, token: str) -> None:
    frame = dfx.encode_subscribe(dialect, request_id, measurement_id)
    assert dfx_service.parse_request(dialect, frame) == Request(
        dfx.SUBSCRIBE_RESULTS, request_id, SubscribeResults(measurement_id, request_id))
    if dialect == dfx.JSON:
        request = decodes_or_raises(dfx_service.parse_request, dialect,
                                    dfx.encode_authenticate(dialect, request_id, token),
                                    error=BadRequest)
        if isinstance(request, BadRequest):
            assert not ros_text(token)  # a NUL: the service refuses what ROS cannot carry
        else:
            assert request == Request(dfx.AUTHENTICATE, request_id, Authenticate(token))


@given(chunk=ANY_CHUNKS, request_id=REQUEST_ID | ANY_TEXT, dialect=DIALECT | ANY_TEXT)
def test_any_chunk_encodes_and_decodes_or_raises_the_local_error(chunk: AddData,
                                                                 request_id: str,
                                                                 dialect: str) -> None:
    frame = decodes_or_raises(dfx.encode_add_data, dialect, request_id, chunk,
                              error=LocalProtocolError)
    if isinstance(frame, LocalProtocolError):
        return
    sent_as = dfx.PROTOBUF if isinstance(frame, bytes) else dfx.JSON
    decoded = dfx_service.parse_request(sent_as, frame)
    assert isinstance(decoded.body, ReceivedChunk)
    assert (decoded.request_id, decoded.body.measurement_id, decoded.body.payload) == (
        request_id, chunk.measurement_id, chunk.payload)
    if isinstance(frame, str):
        assert decoded.body == dfx_service.as_received(chunk, dfx.JSON)
    else:
        assert (decoded.body.duration or 0.0) == struct.unpack(
            '<f', struct.pack('<f', chunk.duration))[0]


@given(measurement_id=ANY_TEXT, request_id=REQUEST_ID | ANY_TEXT, token=ANY_TEXT,
       dialect=DIALECT | ANY_TEXT)
def test_other_requests_encode_or_raise_the_local_error(measurement_id: str, request_id: str,
                                                        token: str, dialect: str) -> None:
    for encode, argument in ((dfx.encode_subscribe, measurement_id),
                             (dfx.encode_authenticate, token)):
        frame = decodes_or_raises(encode, dialect, request_id, argument,
                                  error=LocalProtocolError)
        if isinstance(frame, LocalProtocolError):
            continue
        decoded = decodes_or_raises(
            dfx_service.parse_request, dfx.PROTOBUF if isinstance(frame, bytes) else dfx.JSON,
            frame, error=BadRequest)
        if isinstance(decoded, BadRequest):  # a token with a NUL or a lone surrogate
            assert encode is dfx.encode_authenticate and not ros_text(token)
        else:
            assert (decoded.request_id, decoded.body) == (request_id, (
                SubscribeResults(argument, request_id) if encode is dfx.encode_subscribe
                else Authenticate(argument)))


@given(request_id=REQUEST_ID | ANY_TEXT, status=st.integers(-5, 1100) | ANY_INT,
       body=st.binary(max_size=64))
def test_responses_round_trip_or_raise_the_local_error(request_id: str, status: int,
                                                       body: bytes) -> None:
    frame = decodes_or_raises(dfx_service.encode_response, request_id, status, body,
                              error=LocalProtocolError)
    if isinstance(frame, LocalProtocolError):
        assert not 100 <= status <= 999 or len(request_id) != dfx.ID_LENGTH or not (
            request_id.isascii() and request_id.isprintable() and ' ' not in request_id)
        return
    assert dfx.parse_response(frame) == Response(request_id, status, body)


@given(measurement_id=MEASUREMENT_ID | ANY_TEXT, chunk_order=U32 | ANY_INT, dialect=DIALECT)
def test_status_bodies_round_trip_or_raise_the_local_error(measurement_id: str,
                                                           chunk_order: int,
                                                           dialect: str) -> None:
    body = decodes_or_raises(dfx_service.data_response_body, dialect, measurement_id, chunk_order,
                             error=LocalProtocolError)
    if isinstance(body, LocalProtocolError):
        assert (dfx.measurement_id_problem(measurement_id) or
                not 0 <= chunk_order < 2**32), body
        return
    response = dfx.parse_response(dfx_service.encode_response('abcd000001', 200, body))
    status = dfx.parse_status_body(dialect, response)
    assert (status.error_code, status.measurement_id, status.chunk_order) == (
        'OK', measurement_id, chunk_order)
    assert json.loads(status.text) == {'ID': measurement_id, 'ChunkOrder': chunk_order}


@given(code=ANY_TEXT, errors=JSON, status=st.integers(300, 999), dialect=DIALECT)
def test_error_bodies_round_trip(code: str, errors: Any, status: int, dialect: str) -> None:
    body = dfx_service.error_body(code, errors)
    parsed = dfx.parse_status_body(dialect, Response('abcd000001', status, body))
    # A body with a string ROS cannot carry is not read: the status names the error then.
    named = code != '' and _carriable(code) and _carriable(errors)
    assert parsed.error_code == (code if named else f'HTTP_{status}')


@given(measurement_id=MEASUREMENT_ID, chunk_order=U32,
       multiplier=st.integers(-2**53, 2**53) | st.floats(allow_nan=False, allow_infinity=False),
       channels=st.dictionaries(st.text(max_size=12).filter(ros_text), st.lists(
           st.integers(-2**53, 2**53) | st.floats(allow_nan=False, allow_infinity=False),
           max_size=8), max_size=4),
       dialect=st.just(dfx.JSON))
def test_result_bodies_as_the_simulator_writes_them_round_trip(
        measurement_id: str, chunk_order: int, multiplier: float,
        channels: dict[str, list[float]], dialect: str) -> None:
    body = {'RequestID': 'abcd000002', 'MeasurementDataID': f'{measurement_id}:{chunk_order}',
            'Error': {'Code': 'OK'}, 'Multiplier': multiplier,
            'Channels': {name: {'Data': data} for name, data in channels.items()}}
    text = json.dumps(body)
    response = dfx.parse_response(b'abcd000002200' + text.encode())
    result = dfx.parse_result(dialect, response)
    assert (result.measurement_id, result.chunk_order, result.error_code) == (
        measurement_id, chunk_order, 'OK')
    assert result.multiplier == float(multiplier) and result.json == text
    assert [(s.name, s.data) for s in result.signals] == [
        (name, tuple(float(v) for v in data)) for name, data in channels.items()]


@given(seed=st.integers(), count=st.integers(1, 50))
def test_request_ids_are_always_valid_for_the_encoders(seed: int, count: int) -> None:
    ids = dfx.RequestIds(random.Random(seed))
    for _ in range(count):
        request_id = ids.new()
        frame = dfx.encode_subscribe(dfx.JSON, request_id, 'm1')
        assert dfx_service.parse_request(dfx.JSON, frame).request_id == request_id


def _carriable(value: Any) -> bool:
    if type(value) is dict:
        return all(_carriable(k) and _carriable(v) for k, v in value.items())
    if type(value) is list:
        return all(_carriable(v) for v in value)
    return type(value) is not str or ros_text(value)


def test_base64_of_the_golden_frame_is_what_the_round_trip_sends() -> None:
    # Anchors the generated round trips to the hand-written golden frame.
    chunk = AddData('m1', 0, dfx.FIRST, 5, 20, 15.0, b'\x01\x02', b'{}')
    assert dfx.encode_add_data(dfx.JSON, 'abcd000001', chunk) == GOLDEN_V2_ADD_DATA
    assert dfx.encode_add_data(dfx.PROTOBUF, 'abcd000001', chunk) == GOLDEN_V1_ADD_DATA
    assert base64.b64encode(chunk.payload).decode() == 'AQI='


@given(st.text(min_size=1, max_size=40).filter(lambda t: not dfx.measurement_id_problem(t)),
       st.integers(0, 2**32 - 1), st.booleans(), st.integers(0, 2**64 - 1),
       st.floats(0.0, 1e9), st.binary(min_size=1, max_size=300), st.binary(max_size=40))
def test_v2_add_data_is_the_json_of_the_whole_body(
        measurement_id: str, order: int, last: bool, time: int, duration: float,
        payload: bytes, meta: bytes) -> None:
    # The payload is spliced into the text, not written by json.dumps: same frame anyway.
    chunk = AddData(measurement_id, order, dfx.chunk_action(order, last), time, time,
                    duration, payload, meta)
    body = {'Params': {'ID': measurement_id}, 'Action': chunk.action, 'ChunkOrder': order,
            'StartTime': time, 'EndTime': time, 'Duration': duration,
            'Payload': base64.b64encode(payload).decode(),
            'Meta': base64.b64encode(meta).decode()}
    frame = dfx.encode_add_data(dfx.JSON, 'abcd000001', chunk)
    assert frame == '0506abcd000001' + json.dumps(body, separators=(',', ':'))
    received = dfx_service.as_received(chunk, dfx.JSON)
    assert dfx_service.parse_request(dfx.JSON, frame).body == received


@given(measurement_id=MEASUREMENT_ID, chunk_order=U32, multiplier=U32,
       channels=st.dictionaries(st.text(max_size=12).filter(ros_text), st.lists(
           st.integers(-2**31, 2**31 - 1), max_size=8), max_size=4),
       result_id=st.text(max_size=12).filter(ros_text), dialect=DIALECT)
def test_result_bodies_of_both_dialects_round_trip(
        measurement_id: str, chunk_order: int, multiplier: int,
        channels: dict[str, list[int]], result_id: str, dialect: str) -> None:
    try:
        body = dfx_service.result_body(dialect, 'abcd000002', measurement_id, chunk_order,
                                       channels, multiplier, result_id)
    except LocalProtocolError:  # a lone surrogate protobuf cannot encode
        assert dialect == dfx.PROTOBUF
        return
    result = dfx.parse_result(dialect, Response('abcd000002', 200, body))
    assert (result.measurement_id, result.chunk_order, result.error_code, result.result_id) == (
        measurement_id, chunk_order, 'OK', result_id)
    # v1 has no presence for 0: an absent Multiplier reads as 1, as in v2.
    assert result.multiplier == float(multiplier or 1 if dialect == dfx.PROTOBUF else multiplier)
    decoded = {s.name: s.data for s in result.signals}
    assert decoded == {name: tuple(float(v) for v in data) for name, data in channels.items()}
    assert result.raw == (body if dialect == dfx.PROTOBUF else b'')
    value = json.loads(result.json)
    assert value['MeasurementDataID'] == f'{measurement_id}:{chunk_order}'
    assert {name: c['Data'] for name, c in value['Channels'].items()} == channels
