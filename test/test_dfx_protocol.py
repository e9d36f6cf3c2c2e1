"""The DFX protocol module against golden frames of both dialects (no sockets)."""

from __future__ import annotations

import json
import random

import pytest
from robot_bridges.protocols import dfx, dfx_service
from robot_bridges.protocols.dfx import (AddData, LocalProtocolError, RemoteProtocolError,
                                         Response)
from robot_bridges.protocols.dfx_pending import PendingRequests, Subscriptions
from robot_bridges.protocols.dfx_proto import adddata_pb2, subscribe_pb2
from robot_bridges.protocols.dfx_service import (Authenticate, BadRequest, ReceivedChunk,
                                                 SubscribeResults)

CHUNK = AddData('m1', 0, dfx.FIRST, 5, 20, 15.0, b'\x01\x02', b'{}')

# Written out by hand from the protobuf wire format (field number << 3 | wire type).
GOLDEN_V1_ADD_DATA = (
    b'0506' b'abcd000001'
    b'\x0a\x04\x0a\x02m1'               # Params { ID: "m1" }
    b'\x12\x0eFIRST::PROCESS'           # Action
    # ChunkOrder 0: the proto3 default, not written
    b'\x20\x05'                         # StartTime 5
    b'\x28\x14'                         # EndTime 20
    b'\x35\x00\x00\x70\x41'             # Duration 15.0 (float32, little-endian)
    b'\x3a\x02\x01\x02'                 # Payload
    b'\x42\x02{}')                      # Meta
GOLDEN_V1_SUBSCRIBE = b'0510abcd000002\x0a\x04\x0a\x02m1\x12\x0aabcd000002'
GOLDEN_V2_ADD_DATA = (
    '0506abcd000001{"Params":{"ID":"m1"},"Action":"FIRST::PROCESS","ChunkOrder":0,'
    '"StartTime":5,"EndTime":20,"Duration":15.0,"Payload":"AQI=","Meta":"e30="}')
GOLDEN_V2_SUBSCRIBE = '0510abcd000002{"Params":{"ID":"m1"},"RequestID":"abcd000002"}'
GOLDEN_V2_AUTH = '0718abcd000003{"Token":"s3cr3t-token"}'

GOLDEN_ACK = b'abcd000002200'
GOLDEN_V1_STATUS = b'abcd000001200\x0a\x02m1\x10\x03'  # DataResponse { ID: "m1", ChunkOrder: 3 }
GOLDEN_V2_STATUS = b'abcd000001200{"ID":"m1","ChunkOrder":3}'
GOLDEN_CLOSED = (b'abcd000009400{"Code":"MEASUREMENT_CLOSED",'
                 b'"Errors":["the measurement time limit was reached"]}')
# SubscribeResultsResponse, written out by hand (field numbers of dfx_proto/subscribe.proto).
GOLDEN_V1_RESULT = (
    b'abcd000002200'
    b'\x0a\x02m1'                         # MeasurementID
    b'\x12\x04m1:3'                       # MeasurementDataID
    b'\x1a\x02r1'                         # MeasurementResultID
    b'\x20\xe8\x07'                       # Multiplier 1000
    b'\x2a\x18'                           # Channels entry (24 bytes)
    b'\x0a\x06HR_BPM'                     # key
    b'\x12\x0e'                           # value: Channel (14 bytes)
    b'\x0a\x04\x80\xe5\x08\x01'           # value.Data [72000, -1]: packed sint32, zigzag
    b'\x12\x06HR_BPM'                     # value.Channel
    b'\x32\x04\x0a\x02OK')                # Error { Code: "OK" }
GOLDEN_RESULT = (
    b'abcd000002200{"RequestID":"abcd000002","MeasurementDataID":"m1:3",'
    b'"Error":{"Code":"OK"},"Multiplier":1000,'
    b'"Channels":{"HR_BPM":{"Data":[72000,72500],"Notes":[]},"SNR":{"Data":[1.5]}}}')


def test_request_ids_are_ten_ascii_characters_and_unique() -> None:
    ids = dfx.RequestIds(random.Random(1))
    seen = [ids.new() for _ in range(5000)]
    assert len(set(seen)) == len(seen)
    assert all(len(i) == 10 and i.isascii() and i.isalnum() for i in seen)
    assert seen[0][4:] == '000000' and seen[37][4:] == '000011'
    assert dfx.RequestIds(random.Random(2)).new()[:4] != seen[0][:4]


@pytest.mark.parametrize('order, last, action', [
    (0, False, dfx.FIRST), (1, False, dfx.CHUNK), (7, True, dfx.LAST), (0, True, dfx.LAST)])
def test_chunk_action_is_derived(order: int, last: bool, action: str) -> None:
    assert dfx.chunk_action(order, last) == action


def test_v1_requests_equal_the_golden_frames_and_decode_with_the_proto() -> None:
    frame = dfx.encode_add_data(dfx.PROTOBUF, 'abcd000001', CHUNK)
    assert frame == GOLDEN_V1_ADD_DATA
    decoded = adddata_pb2.DataRequest.FromString(frame[14:])
    assert (decoded.Params.ID, decoded.Action, decoded.ChunkOrder, decoded.StartTime,
            decoded.EndTime, decoded.Duration, decoded.Payload, decoded.Meta) == (
        'm1', 'FIRST::PROCESS', 0, 5, 20, 15.0, b'\x01\x02', b'{}')
    frame = dfx.encode_subscribe(dfx.PROTOBUF, 'abcd000002', 'm1')
    assert frame == GOLDEN_V1_SUBSCRIBE
    subscribe = subscribe_pb2.SubscribeResultsRequest.FromString(frame[14:])
    assert (subscribe.Params.ID, subscribe.RequestID) == ('m1', 'abcd000002')


def test_v2_requests_equal_the_golden_frames() -> None:
    assert dfx.encode_add_data(dfx.JSON, 'abcd000001', CHUNK) == GOLDEN_V2_ADD_DATA
    assert dfx.encode_subscribe(dfx.JSON, 'abcd000002', 'm1') == GOLDEN_V2_SUBSCRIBE
    assert dfx.encode_authenticate(dfx.JSON, 'abcd000003', 's3cr3t-token') == GOLDEN_V2_AUTH
    with pytest.raises(LocalProtocolError):
        dfx.encode_authenticate(dfx.PROTOBUF, 'abcd000003', 's3cr3t-token')
    assert 's3cr3t' not in repr(Authenticate('s3cr3t-token'))


@pytest.mark.parametrize('dialect, frames', [
    (dfx.PROTOBUF, (GOLDEN_V1_ADD_DATA, GOLDEN_V1_SUBSCRIBE)),
    (dfx.JSON, (GOLDEN_V2_ADD_DATA, GOLDEN_V2_SUBSCRIBE))])
def test_the_simulator_side_parses_the_golden_requests(dialect: str, frames: tuple) -> None:
    add, subscribe = (dfx_service.parse_request(dialect, frame) for frame in frames)
    # v1 (proto3) does not write ChunkOrder 0: the service cannot tell it from an absent one.
    expected = ReceivedChunk('m1', dfx.FIRST, b'\x01\x02', None if dialect == dfx.PROTOBUF else 0,
                             5.0, 20.0, 15.0, b'{}')
    assert (add.action, add.request_id, add.body) == ('0506', 'abcd000001', expected)
    assert dfx_service.as_received(CHUNK, dialect) == expected
    assert (subscribe.action, subscribe.request_id, subscribe.body) == (
        '0510', 'abcd000002', SubscribeResults('m1', 'abcd000002'))


def test_golden_responses_parse_in_both_dialects() -> None:
    assert dfx.parse_response(GOLDEN_ACK) == Response('abcd000002', 200, b'')
    assert dfx_service.encode_response('abcd000002', 200) == GOLDEN_ACK
    v1 = dfx.parse_status_body(dfx.PROTOBUF, dfx.parse_response(GOLDEN_V1_STATUS))
    v2 = dfx.parse_status_body(dfx.JSON, dfx.parse_response(GOLDEN_V2_STATUS))
    for status in (v1, v2):
        assert (status.error_code, status.measurement_id, status.chunk_order) == ('OK', 'm1', 3)
        assert json.loads(status.text) == {'ID': 'm1', 'ChunkOrder': 3}
    assert GOLDEN_V1_STATUS == dfx_service.encode_response(
        'abcd000001', 200, dfx_service.data_response_body(dfx.PROTOBUF, 'm1', 3))
    assert GOLDEN_V2_STATUS == dfx_service.encode_response(
        'abcd000001', 200, dfx_service.data_response_body(dfx.JSON, 'm1', 3))
    closed = dfx.parse_response(GOLDEN_CLOSED)
    assert (closed.request_id, closed.status, closed.ok) == ('abcd000009', 400, False)
    for dialect in dfx.DIALECTS:
        assert dfx.parse_status_body(dialect, closed).error_code == 'MEASUREMENT_CLOSED'
    unnamed = Response('abcd000009', 405, b'\x00\x01')
    assert dfx.parse_status_body(dfx.PROTOBUF, unnamed).error_code == 'HTTP_405'


def test_result_chunks_parse() -> None:
    result = dfx.parse_result(dfx.JSON, dfx.parse_response(GOLDEN_RESULT))
    assert (result.measurement_id, result.chunk_order, result.error_code, result.multiplier) == (
        'm1', 3, 'OK', 1000.0)
    assert [(s.name, s.data) for s in result.signals] == [
        ('HR_BPM', (72000.0, 72500.0)), ('SNR', (1.5,))]
    assert result.json == GOLDEN_RESULT[13:].decode() and result.raw == b''


def test_a_v1_result_is_decoded_from_the_published_schema_and_kept_raw() -> None:
    response = dfx.parse_response(GOLDEN_V1_RESULT)
    result = dfx.parse_result(dfx.PROTOBUF, response)
    assert (result.measurement_id, result.chunk_order, result.error_code, result.multiplier,
            result.result_id) == ('m1', 3, 'OK', 1000.0, 'r1')
    assert [(s.name, s.data) for s in result.signals] == [('HR_BPM', (72000.0, -1.0))]
    assert result.raw == response.body
    # Rendered with the v2 names: what the vendor demo's JSON decoder reads.
    assert json.loads(result.json) == {
        'MeasurementID': 'm1', 'MeasurementDataID': 'm1:3', 'MeasurementResultID': 'r1',
        'Multiplier': 1000, 'Error': {'Code': 'OK'},
        'Channels': {'HR_BPM': {'Data': [72000, -1], 'Channel': 'HR_BPM'}}}
    assert GOLDEN_V1_RESULT[13:] == dfx_service.result_body(
        dfx.PROTOBUF, 'abcd000002', 'm1', 3, {'HR_BPM': [72000, -1]}, 1000, 'r1')
    with pytest.raises(RemoteProtocolError, match='not JSON|not UTF-8'):
        dfx.parse_result(dfx.JSON, response)


def test_v1_result_errors_and_an_absent_multiplier() -> None:
    message = subscribe_pb2.SubscribeResultsResponse(MeasurementDataID='m9:0')
    message.Error.Code = 'LIVENESS_ERROR'
    message.Error.Errors['SNR'].msgs.append('too low')
    result = dfx.parse_result(dfx.PROTOBUF, Response('abcd000002', 200,
                                                     message.SerializeToString()))
    assert (result.measurement_id, result.chunk_order, result.error_code,
            result.multiplier) == ('m9', 0, 'LIVENESS_ERROR', 1.0)
    assert json.loads(result.json)['Error'] == {'Code': 'LIVENESS_ERROR',
                                                'Errors': {'SNR': {'msgs': ['too low']}}}


@pytest.mark.parametrize('body', [b'\x12\x05m:', b'\xff\xff\xff', b'{"MeasurementDataID":1}'])
def test_broken_v1_results_raise_remote_errors(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        dfx.parse_result(dfx.PROTOBUF, Response('abcd000002', 200, body))


def test_v2_results_name_their_measurement_and_result() -> None:
    body = (b'{"MeasurementID":"m7","MeasurementDataID":"x:y:4","MeasurementResultID":"r",'
            b'"Error":{"Code":"OK"}}')
    result = dfx.parse_result(dfx.JSON, Response('abcd000002', 200, body))
    assert (result.measurement_id, result.chunk_order, result.result_id) == ('m7', 4, 'r')


@pytest.mark.parametrize('frame, reason', [
    (b'abcd00000', 'short frame'),
    (b'abcd0\xc3\xa90000200', 'not printable ASCII'),
    ('abcdé00000200', 'not printable ASCII'),
    (b'abcd000001 2x', 'not 3 digits'),
    (b'abcd000001OK!', 'not 3 digits'),
])
def test_bad_response_frames_raise_remote_errors(frame: bytes | str, reason: str) -> None:
    with pytest.raises(RemoteProtocolError, match=reason):
        dfx.parse_response(frame)


@pytest.mark.parametrize('dialect, body, reason', [
    (dfx.PROTOBUF, b'\x0a\x05m1', 'not a valid DataResponse'),  # truncated string
    (dfx.PROTOBUF, b'\xff\xff\xff', 'not a valid DataResponse'),
    (dfx.JSON, b'{"ID": "m1", ', 'not JSON'),
    (dfx.JSON, b'[1]', 'not an object'),
])
def test_broken_status_bodies_raise_remote_errors(dialect: str, body: bytes, reason: str) -> None:
    with pytest.raises(RemoteProtocolError, match=reason):
        dfx.parse_status_body(dialect, Response('abcd000001', 200, body))


@pytest.mark.parametrize('body, reason', [
    (b'{"Channels": []}', 'not an object'),
    (b'{"Channels": {"HR": {"Data": ["x"]}}}', 'numeric'),
    (b'{"MeasurementDataID": "m1:x"}', 'chunk number'),
    (b'{"Multiplier": "2"}', 'wrong type'),
])
def test_broken_results_raise_remote_errors(body: bytes, reason: str) -> None:
    with pytest.raises(RemoteProtocolError, match=reason):
        dfx.parse_result(dfx.JSON, Response('abcd000002', 200, body))


@pytest.mark.parametrize('chunk, reason', [
    (AddData('', 0, dfx.FIRST, 0, 1, 1.0, b'x'), 'empty'),
    (AddData('m\n1', 0, dfx.FIRST, 0, 1, 1.0, b'x'), 'not printable'),
    (AddData('m1', 2**32, dfx.CHUNK, 0, 1, 1.0, b'x'), 'ChunkOrder'),
    (AddData('m1', 1, 'NEXT', 0, 1, 1.0, b'x'), 'Action'),
    (AddData('m1', 1, dfx.CHUNK, 0, 1, float('nan'), b'x'), 'Duration'),
])
def test_invalid_requests_raise_local_errors(chunk: AddData, reason: str) -> None:
    for dialect in dfx.DIALECTS:
        with pytest.raises(LocalProtocolError, match=reason):
            dfx.encode_add_data(dialect, 'abcd000001', chunk)
    with pytest.raises(LocalProtocolError, match='request ID'):
        dfx.encode_subscribe(dfx.JSON, 'short', 'm1')


@pytest.mark.parametrize('dialect, frame, request_id, reason', [
    (dfx.JSON, '0506abc', '', 'short request'),
    (dfx.JSON, '9999abcd000001{}', 'abcd000001', 'unknown action'),
    (dfx.JSON, '0506abcd000001{"Params":{"ID":"m1"},"Payload":""}', 'abcd000001', 'Action'),
    (dfx.JSON, '0506abcd000001{"Params":{"ID":"m1"},"Action":"NEXT::PROCESS"}', 'abcd000001',
     'Action'),
    (dfx.JSON, '0506abcd000001{"Params":{"ID":"m1"},"Action":"CHUNK::PROCESS",'
     '"ChunkOrder":"2"}', 'abcd000001', 'not an integer'),
    (dfx.JSON, '0506abcd000001{"Params":{"ID":"m1"},"Action":"CHUNK::PROCESS",'
     '"StartTime":"soon"}', 'abcd000001', 'not a number'),
    (dfx.JSON, '0506abcd000001{"Params":{"ID":"m1"},"Action":"CHUNK::PROCESS",'
     '"EndTime":-1}', 'abcd000001', 'EndTime'),
    (dfx.JSON, GOLDEN_V2_ADD_DATA.replace('AQI=', 'A!I='), 'abcd000001', 'base64'),
    (dfx.JSON, '0510abcd000002{"Params":{"ID":"m1"},"RequestID":"short"}', 'abcd000002',
     'RequestID'),
    (dfx.JSON, '0718abcd000003{"Token":""}', 'abcd000003', 'Token'),
    (dfx.PROTOBUF, b'0506abcd000001\xff\xff', 'abcd000001', 'not a valid DataRequest'),
    (dfx.PROTOBUF, GOLDEN_V2_AUTH.encode(), 'abcd000003', 'LoginWithTokenRequest'),
])
def test_bad_requests_name_their_id(dialect: str, frame: str | bytes, request_id: str,
                                    reason: str) -> None:
    with pytest.raises(BadRequest, match=reason) as caught:
        dfx_service.parse_request(dialect, frame)
    assert caught.value.request_id == request_id


def test_pending_requests_match_by_id_and_expire_in_order() -> None:
    pending = PendingRequests(timeout_s=10.0, limit=3)
    pending.add('a', dfx.ADD_DATA, 0.0, 'm1', 0)
    pending.add('b', dfx.SUBSCRIBE_RESULTS, 1.0, 'm1')
    pending.add('c', dfx.ADD_DATA, 2.0, 'm1', 1)
    evicted = pending.add('d', dfx.ADD_DATA, 3.0, 'm1', 2)
    assert evicted is not None and evicted.request_id == 'a'
    assert pending.pop('zzz') is None
    found = pending.pop('c')
    assert found is not None and (found.action, found.chunk_order) == (dfx.ADD_DATA, 1)
    assert pending.expire(10.9) == []
    assert [p.request_id for p in pending.expire(13.0)] == ['b', 'd']
    assert len(pending) == 0


def test_subscriptions_follow_reconnects_and_finish_on_the_last_result() -> None:
    subscriptions = Subscriptions(limit=2)
    subscriptions.want('m1')
    subscriptions.sent('m1', 'id00000001')
    assert subscriptions.acknowledged('id00000001') == 'm1'
    assert subscriptions.measurement_of('id00000001') == 'm1'
    subscriptions.disconnected()
    assert subscriptions.measurement_of('id00000001') is None
    assert subscriptions.unfinished() == ['m1']
    subscriptions.sent('m1', 'id00000002')
    subscriptions.last_chunk('m1', 2)
    assert not subscriptions.result('m1', 1)
    assert subscriptions.result('m1', 2)
    # Finished: not subscribed again, but late results on this connection still match.
    assert subscriptions.unfinished() == [] and subscriptions.measurement_of('id00000002') == 'm1'
    assert subscriptions.state('m1') is None
    for mid in ('m2', 'm3', 'm4'):
        subscriptions.want(mid)
    assert subscriptions.unfinished() == ['m3', 'm4']


HUGE = b'1' + b'0' * 400  # an integer JSON carries and no float holds


@pytest.mark.parametrize('body', [b'{"Multiplier": %s}' % HUGE,
                                  b'{"Channels": {"HR": {"Data": [1, -%s]}}}' % HUGE])
def test_results_with_integers_beyond_any_float_raise_remote_errors(body: bytes) -> None:
    # Found by test_fuzz_dfx.py: float() raised OverflowError.
    with pytest.raises(RemoteProtocolError):
        dfx.parse_result(dfx.JSON, Response('abcd000002', 200, body))


def test_a_duration_beyond_any_float_is_a_bad_request() -> None:
    frame = GOLDEN_V2_ADD_DATA.replace('15.0', HUGE.decode())
    with pytest.raises(BadRequest, match='Duration'):
        dfx_service.parse_request(dfx.JSON, frame)
    with pytest.raises(LocalProtocolError, match='Duration'):
        dfx.encode_add_data(dfx.JSON, 'abcd000001', AddData('m1', 0, dfx.FIRST, 0, 1, 10**400,
                                                            b'x'))


def test_a_duration_beyond_float32_is_refused_for_protobuf_only() -> None:
    # Found by test_fuzz_dfx.py: protobuf wrote it as infinity, which the service refuses.
    chunk = AddData('m1', 0, dfx.FIRST, 0, 1, 1e300, b'x')
    with pytest.raises(LocalProtocolError, match='protobuf float'):
        dfx.encode_add_data(dfx.PROTOBUF, 'abcd000001', chunk)
    frame = dfx.encode_add_data(dfx.JSON, 'abcd000001', chunk)
    assert dfx_service.parse_request(dfx.JSON, frame).body == dfx_service.as_received(chunk,
                                                                                      dfx.JSON)


def test_chunk_numbers_are_uint32_in_measurement_data_ids() -> None:
    # Found by test_fuzz_dfx.py: 10-digit chunk numbers were refused.
    top = Response('abcd000002', 200, b'{"MeasurementDataID": "m1:4294967295"}')
    assert dfx.parse_result(dfx.JSON, top).chunk_order == 2**32 - 1
    with pytest.raises(RemoteProtocolError, match='chunk number'):
        dfx.parse_result(dfx.JSON, Response('abcd000002', 200,
                                            b'{"MeasurementDataID": "m1:4294967296"}'))


@pytest.mark.parametrize('measurement_id, chunk_order', [('m1', -1), ('m1', 2**32),
                                                         ('m\ud800', 1), ('', 1)])
def test_status_bodies_of_invalid_values_raise_local_errors(measurement_id: str,
                                                            chunk_order: int) -> None:
    # Found by test_fuzz_dfx.py: protobuf raised ValueError / UnicodeEncodeError.
    for dialect in dfx.DIALECTS:
        with pytest.raises(LocalProtocolError):
            dfx_service.data_response_body(dialect, measurement_id, chunk_order)


def test_local_errors_quote_huge_values_bounded() -> None:
    with pytest.raises(LocalProtocolError) as info:
        dfx_service.encode_response('abcd000001', 10**400)
    assert len(str(info.value)) < 100


# What the real client library (PyPI dfx-apiv2-client 0.15.0, Measurements.ws_add_data and
# ws_subscribe_to_results) writes, as called by the vendor's examples: apiexample.py
# (nuralogix/dfx-apiv2-client-py 3b3a15d) passes neither ChunkOrder nor times, dfxdemo.py
# (nuralogix/dfx-demo-py 655e232) the SDK's float seconds and an int Duration; the
# JavaScript client (@nuralogix.ai/dfx-api-client 1.0.73) sends binary frames.
@pytest.mark.parametrize('frame, expected', [
    ('0506abcdefghij{"Params": {"ID": "m1"}, "Action": "FIRST::PROCESS", "Payload": "AQI="}',
     ReceivedChunk('m1', dfx.FIRST, b'\x01\x02')),
    ('0506abcdefghij{"Params": {"ID": "m1"}, "ChunkOrder": 1, "Action": "CHUNK::PROCESS", '
     '"StartTime": 5.033, "EndTime": 10.066, "Duration": 5, "Meta": "e30=", "Payload": "AQI="}',
     ReceivedChunk('m1', dfx.CHUNK, b'\x01\x02', 1, 5.033, 10.066, 5.0, b'{}')),
    ('0506abcdefghij{"Params": {"ID": "m1"}, "Action": "LAST::IGNORE", "StartTime": "5.5", '
     '"Payload": "AQI="}', ReceivedChunk('m1', 'LAST::IGNORE', b'\x01\x02', None, 5.5)),
    (b'0510abcdefghij{"Params":{"ID":"m1"},"RequestID":""}', SubscribeResults('m1', 'abcdefghij')),
    ('0510abcdefghij{"Params": {"ID": "m1"}, "RequestID": "KLMNOPQRST"}',
     SubscribeResults('m1', 'KLMNOPQRST')),
    (b'0718abcdefghij{"Token":"t"}', Authenticate('t')),
])
def test_what_the_real_clients_send_is_accepted(frame: str | bytes, expected: object) -> None:
    request = dfx_service.parse_request(dfx.JSON, frame)
    assert (request.request_id, request.body) == ('abcdefghij', expected)
    if isinstance(expected, ReceivedChunk):
        assert expected.problem() == ''


def test_v1_authentication_is_a_login_with_token_request() -> None:
    # organizations.proto of dfx-apiv2-protos 2.24.0: LoginWithTokenRequest { Token = 1 }.
    request = dfx_service.parse_request(dfx.PROTOBUF, b'0718abcd000003\x0a\x02t1')
    assert request.body == Authenticate('t1')
