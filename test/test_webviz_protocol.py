"""The webViz protocol module against golden frames, in both directions (no sockets)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from robot_bridges.protocols import webviz
from robot_bridges.protocols.webviz import (DataRequest, Keepalive, KeepaliveAck,
                                            LocalProtocolError, MicData, Push,
                                            RemoteProtocolError, Subscribe, Unsubscribe)

DIRECTIONS = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 150.25, 64.0, 2.0, 0.0]

# An older (Anki-era) firmware push: the direction is called "dominant".
GOLDEN_DOMINANT = (
    '{"module":"micdata","data":{"time":1234.5,"confidence":150,"dominant":9,'
    '"selectedDirection":9,"maxConfidence":150.25,"triggerDetected":false,"delayTime":12,'
    '"activeState":1,"latestPowerValue":135000.5,"latestNoiseFloor":1180.5,'
    '"directions":[0.5,1.0,2.0,4.0,8.0,16.0,32.0,64.0,128.0,150.25,64.0,2.0,0.0],'
    '"beatDetector":{"confidence":0.0,"tempo_bpm":0.0}}}')

# A later firmware push as jsoncpp's operator<< writes it (StyledStreamWriter: keys in byte
# order, tabs, " : ", a member's object or multi-line array on a line of its own, an array
# on one line unless that line would reach 74 characters, 17 significant digits).
GOLDEN_PRETTY_DIRECTION = """{
\t"data" :
\t{
\t\t"activeState" : 1,
\t\t"beatDetector" :
\t\t{
\t\t\t"confidence" : -1.0,
\t\t\t"tempo_bpm" : -1.0
\t\t},
\t\t"confidence" : 150,
\t\t"delayTime" : 12,
\t\t"direction" : 9,
\t\t"directions" :
\t\t[
\t\t\t0.5,
\t\t\t1.0,
\t\t\t2.0,
\t\t\t4.0,
\t\t\t8.0,
\t\t\t16.0,
\t\t\t32.0,
\t\t\t64.0,
\t\t\t128.0,
\t\t\t150.25,
\t\t\t64.0,
\t\t\t2.0,
\t\t\t0.0
\t\t],
\t\t"latestNoiseFloor" : 1180.5,
\t\t"latestPowerValue" : 135000.5,
\t\t"maxConfidence" : 1000.0,
\t\t"selectedDirection" : 8,
\t\t"time" : 1234.5,
\t\t"triggerDetected" : true
\t},
\t"module" : "micdata"
}""".replace(' :\n', ' : \n')  # jsoncpp ends those lines with the separator's space

# The shape earlier tests assumed (object braces on the key's line): parsed just as well.
LOOSE_PRETTY = GOLDEN_PRETTY_DIRECTION.replace(' : \n\t{', ' : {').replace(' : \n\t\t{', ' : {')

EXPECTED = MicData(robot_time=1234.5, direction=9, confidence=150, directions=DIRECTIONS,
                   trigger_detected=False, active_state=1, selected_direction=9,
                   max_confidence=150.25, delay_time_ms=12, latest_power_value=135000.5,
                   latest_noise_floor=1180.5, beat_confidence=0.0, beat_tempo_bpm=0.0)


def micdata(**changes: Any) -> dict[str, Any]:
    """Return the golden payload with some fields changed (None removes a field)."""
    data = json.loads(GOLDEN_DOMINANT)['data']
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


# -- robot -> client ---------------------------------------------------------------------

def test_older_firmware_push_with_dominant() -> None:
    push = webviz.parse_push(GOLDEN_DOMINANT)
    assert push == Push('micdata', json.loads(GOLDEN_DOMINANT)['data'])
    assert webviz.parse_micdata(push.data) == EXPECTED


def test_later_firmware_pretty_push_with_direction() -> None:
    push = webviz.parse_push(GOLDEN_PRETTY_DIRECTION)
    assert isinstance(push, Push) and push.module == 'micdata'
    sample = webviz.parse_micdata(push.data)
    assert sample == MicData(1234.5, 9, 150, DIRECTIONS, True, 1, selected_direction=8,
                             max_confidence=1000.0, delay_time_ms=12,
                             latest_power_value=135000.5, latest_noise_floor=1180.5,
                             beat_confidence=-1.0, beat_tempo_bpm=-1.0)
    assert webviz.parse_push(LOOSE_PRETTY) == push


def test_the_robot_writer_is_reproduced_byte_for_byte() -> None:
    data = json.loads(GOLDEN_PRETTY_DIRECTION)['data']
    assert webviz.push_frame('micdata', data, pretty=True) == GOLDEN_PRETTY_DIRECTION
    assert webviz.styled_json({'keepalive': True}) == '{\n\t"keepalive" : true\n}'


@pytest.mark.parametrize('value, text', [
    ([], '[]'), ({}, '{}'), ([1, 2], '[ 1, 2 ]'), (0.1, '0.10000000000000001'),
    (3.0, '3.0'), (1e300, '1.0000000000000001e+300'), ('\u00e9"', '"\\u00e9\\""'),
    ({'b': [], 'a': {}}, '{\n\t"a" : {},\n\t"b" : []\n}'),
    (['x' * 40, 'y' * 40], '[\n\t"' + 'x' * 40 + '",\n\t"' + 'y' * 40 + '"\n]'),
    (list(range(25)), '[\n' + ',\n'.join(f'\t{n}' for n in range(25)) + '\n]'),
    ([{'k': 1}], '[\n\t{\n\t\t"k" : 1\n\t}\n]'),
])
def test_styled_writer_rules(value: Any, text: str) -> None:
    assert webviz.styled_json(value) == text
    assert json.loads(text) == value


def test_optional_firmware_fields() -> None:
    sample = webviz.parse_micdata({'dominant': 4, 'confidence': 80.5})
    assert sample.selected_direction == 12 and sample.delay_time_ms == -1
    assert all(math.isnan(v) for v in (
        sample.max_confidence, sample.latest_power_value, sample.latest_noise_floor,
        sample.beat_confidence, sample.beat_tempo_bpm))


def test_bytes_and_crlf_frames_parse_too() -> None:
    frame = GOLDEN_PRETTY_DIRECTION.replace('\n', '\r\n').encode('utf-8')
    assert webviz.parse_micdata(webviz.parse_push(frame).data).direction == 9


def test_both_names_present_direction_wins() -> None:
    assert webviz.parse_micdata(micdata(direction=3)).direction == 3
    assert webviz.parse_micdata(micdata(direction=3, dominant=None)).direction == 3
    assert webviz.parse_micdata(micdata()).direction == 9


def test_unknown_direction_12_is_valid() -> None:
    assert webviz.parse_micdata(micdata(dominant=12)).direction == 12


def test_optional_fields_default() -> None:
    sample = webviz.parse_micdata({'dominant': 4, 'confidence': 80.5})
    assert sample.direction == 4 and sample.confidence == 80.5
    assert math.isnan(sample.robot_time)
    assert sample.directions == [] and sample.trigger_detected is False
    assert sample.active_state == 0


def test_directions_list_is_passed_on_as_decoded() -> None:
    data = micdata()
    assert webviz.parse_micdata(data).directions is data['directions']


def test_keepalive_answer() -> None:
    assert webviz.parse_push('{"keepalive":true}') == KeepaliveAck()
    assert webviz.parse_push('{\n\t"keepalive" : true\n}\n') == KeepaliveAck()


def test_other_modules_keep_any_json_data() -> None:
    assert webviz.parse_push('{"module":"intents","data":[{"type":"current-intent"}]}') == \
        Push('intents', [{'type': 'current-intent'}])
    assert webviz.parse_push('{"module":"x","data":null}') == Push('x', None)


@pytest.mark.parametrize('frame, error', [
    ('not json', 'not JSON'),
    ('', 'not JSON'),
    ('[1, 2]', 'JSON array, not an object'),
    ('"micdata"', 'JSON string'),
    ('42', 'JSON number'),
    (b'\xff\xfe{"a":', 'not UTF-8'),
    ('{"module": 7, "data": {}}', 'invalid module name'),
    ('{"module": "", "data": {}}', 'invalid module name'),
    ('{"module": "micdata"}', 'without data'),
    ('{"type": "subscribe"}', 'neither a push nor a keepalive'),
    ('[' * 100_000 + ']' * 100_000, 'JSON'),
])
def test_invalid_frames(frame: str | bytes, error: str) -> None:
    with pytest.raises(RemoteProtocolError, match=error):
        webviz.parse_push(frame)


@pytest.mark.parametrize('changes, error', [
    ({'dominant': None}, 'without "direction" or "dominant"'),
    ({'dominant': '9'}, '"dominant" is not an integer'),
    ({'dominant': 9.0}, '"dominant" is not an integer'),
    ({'dominant': True}, '"dominant" is not an integer'),
    ({'dominant': 13}, r'in \[0, 12\]'),
    ({'dominant': -1}, r'in \[0, 12\]'),
    ({'direction': None, 'dominant': 2**70}, r'in \[0, 12\]'),
    ({'direction': 'left'}, '"direction" is not an integer'),
    ({'confidence': None}, '"confidence" is not a finite number'),
    ({'confidence': '150'}, '"confidence" is not a finite number'),
    ({'confidence': float('nan')}, '"confidence"'),
    ({'confidence': float('inf')}, '"confidence"'),
    ({'confidence': 1e39}, '"confidence"'),
    ({'confidence': 10**400}, '"confidence"'),
    ({'confidence': False}, '"confidence"'),
    ({'time': 'now'}, '"time"'),
    ({'time': float('nan')}, '"time"'),
    ({'directions': DIRECTIONS[:12]}, '"directions" is not a list of 13'),
    ({'directions': DIRECTIONS + [1.0]}, '"directions" is not a list of 13'),
    ({'directions': DIRECTIONS[:12] + [float('nan')]}, '"directions"'),
    ({'directions': DIRECTIONS[:12] + [float('-inf')]}, '"directions"'),
    ({'directions': DIRECTIONS[:12] + ['1.0']}, '"directions"'),
    ({'directions': DIRECTIONS[:12] + [True]}, '"directions"'),
    ({'directions': DIRECTIONS[:12] + [10**400]}, '"directions"'),
    ({'directions': {'0': 1.0}}, '"directions"'),
    ({'directions': list(range(100_000))}, '"directions"'),
    ({'triggerDetected': 1}, '"triggerDetected" is not a boolean'),
    ({'activeState': 1.5}, '"activeState"'),
    ({'activeState': 2**31}, '"activeState"'),
    ({'selectedDirection': 13}, '"selectedDirection"'),
    ({'selectedDirection': 'up'}, '"selectedDirection"'),
    ({'maxConfidence': 'a lot'}, '"maxConfidence" is not a finite number'),
    ({'delayTime': 1.5}, '"delayTime"'),
    ({'latestPowerValue': float('nan')}, '"latestPowerValue"'),
    ({'latestNoiseFloor': '0'}, '"latestNoiseFloor"'),
    ({'beatDetector': [1]}, '"beatDetector" is not an object'),
    ({'beatDetector': {'confidence': 'x', 'tempo_bpm': 1.0}}, '"beatDetector.confidence"'),
    ({'beatDetector': {'confidence': 1.0, 'tempo_bpm': True}}, '"beatDetector.tempo_bpm"'),
])
def test_invalid_micdata(changes: dict[str, Any], error: str) -> None:
    with pytest.raises(RemoteProtocolError, match=error):
        webviz.parse_micdata(micdata(**changes))


def test_error_text_stays_short_for_huge_values() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        webviz.parse_micdata(micdata(directions=['x' * 1_000_000] * 13))
    assert len(str(info.value)) < 200


@pytest.mark.parametrize('data', [None, [1], 'micdata', 3])
def test_micdata_must_be_an_object(data: Any) -> None:
    with pytest.raises(RemoteProtocolError, match='micdata is JSON'):
        webviz.parse_micdata(data)


# -- client -> robot ---------------------------------------------------------------------

def test_client_frames() -> None:
    assert json.loads(webviz.subscribe_frame('micdata')) == \
        {'type': 'subscribe', 'module': 'micdata'}
    assert json.loads(webviz.unsubscribe_frame('micdata')) == \
        {'type': 'unsubscribe', 'module': 'micdata'}
    assert webviz.keepalive_frame() == '{"keepalive": true}'  # as the robot's own page
    assert webviz.parse_request(webviz.keepalive_frame()) == Keepalive()
    assert webviz.data_frame('intents', '{ "intentType": "user",\n "request": "greeting_hello"}') \
        == '{"type":"data","module":"intents","data":{"intentType":"user",' \
           '"request":"greeting_hello"}}'


@pytest.mark.parametrize('text, error', [
    ('not json', 'not JSON'), ('', 'not JSON'), ('[1]', 'JSON array'), ('"x"', 'JSON string'),
])
def test_requests_must_be_json_objects(text: str, error: str) -> None:
    with pytest.raises(LocalProtocolError, match=error):
        webviz.data_frame('intents', text)


@pytest.mark.parametrize('module, text, error', [
    ('intents', '{"intentType": {"a": 1}, "request": "x"}', '"intentType" is JSON object'),
    ('intents', '{"intentType": "user", "request": ["x"]}', '"request" is JSON array'),
    ('intents', '{"intentType": "user"}', 'without "request"'),
    ('intents', '{"request": "greeting_hello"}', 'without "intentType"'),
    ('intents', '{"intentType": 1, "request": "x"}', '"intentType" is JSON number'),
    ('behaviors', '{"behaviorName": null}', '"behaviorName" is JSON null'),
    ('behaviors', '{}', 'without "behaviorName"'),
    ('animations', '{"type": "start", "animation": {}}', '"animation" is JSON object'),
    ('animations', '{"type": true, "animation": "a"}', '"type" is JSON boolean'),
    ('vision', '[1]', 'JSON array, not an object'),
])
def test_requests_that_could_crash_the_engine_are_refused(module: str, text: str,
                                                          error: str) -> None:
    with pytest.raises(LocalProtocolError, match=error):
        webviz.data_frame(module, text)


@pytest.mark.parametrize('module, text', [
    ('intents', '{"intentType": "cloud", "request": "intent_play_fistbump", "extra": [1]}'),
    ('behaviors', '{"behaviorName": "FistBump"}'),
    ('animations', '{"type": "start", "animation": "anim_eyepose_happy"}'),
    ('vision', '{"anything": {"nested": [1, 2]}}'),
])
def test_requests_of_the_accepted_shapes_pass(module: str, text: str) -> None:
    assert json.loads(webviz.data_frame(module, text))['data'] == json.loads(text)


def test_module_names_are_checked() -> None:
    with pytest.raises(LocalProtocolError):
        webviz.subscribe_frame('')


def test_url() -> None:
    assert webviz.url('192.168.1.20', 8889, '/socket') == 'ws://192.168.1.20:8889/socket'
    assert webviz.url('::1', 8888, '/socket') == 'ws://[::1]:8888/socket'
    for host, port, path in [('', 1, '/socket'), ('a/b', 1, '/'), ('h', 0, '/'),
                             ('h', 70000, '/'), ('h', 1, 'socket'), ('h', 1, '/s?x=1')]:
        with pytest.raises(LocalProtocolError):
            webviz.url(host, port, path)


@pytest.mark.parametrize('host, path', [('user:s3cr3t-pw@10.0.0.2', '/socket'),
                                        ('s3cr3t-pw@10.0.0.2', '/socket'),
                                        ('10.0.0.2', '/socket?token=s3cr3t-pw'),
                                        ('10.0.0.2', '/socket#s3cr3t-pw'),
                                        ('10.0.0.2?token=s3cr3t-pw', '/socket')])
def test_url_errors_never_repeat_credentials_or_a_query(host: str, path: str) -> None:
    with pytest.raises(LocalProtocolError) as raised:
        webviz.url(host, 8888, path)
    assert 's3cr3t' not in str(raised.value)
    assert '10.0.0.2' in str(raised.value) or path.startswith('/socket')


# -- the robot's side (simulator) --------------------------------------------------------

@pytest.mark.parametrize('frame, expected', [
    ('{"type":"subscribe","module":"micdata"}', Subscribe('micdata')),
    ('{\n\t"module" : "micdata",\n\t"type" : "unsubscribe"\n}', Unsubscribe('micdata')),
    ('{"type":"data","module":"intents","data":{"intentType":"user"}}',
     DataRequest('intents', {'intentType': 'user'})),
    ('{"keepalive":true}', Keepalive()),
    ('{"keepalive":0}', Keepalive()),
])
def test_robot_parses_requests(frame: str, expected: webviz.Request) -> None:
    assert webviz.parse_request(frame) == expected


@pytest.mark.parametrize('frame', [
    b'{"type":"subscribe","module":"micdata"}',  # binary: the robot reads text frames only
    ' {"type":"subscribe","module":"micdata"}',  # must start with {
    '{', '', 'keepalive', '[{"keepalive":true}]', '{"keepalive":null}', '{bad json}',
    '{"type":"data","module":"intents"}',  # a data request needs data
    '{"type":"data","module":"intents","data":null}',
    '{"type":"fly","module":"micdata","keepalive":true}',  # type+module: never a keepalive
    '{"type":"subscribe"}', '{"type":"subscribe","module":""}',
    '{"type":"subscribe","module":["micdata"]}',
])
def test_robot_ignores(frame: str | bytes) -> None:
    assert webviz.parse_request(frame) is None


def test_robot_push_frames_round_trip() -> None:
    data = webviz.micdata_payload(1234.5, 9, 150, field='direction', directions=DIRECTIONS)
    compact = webviz.push_frame('micdata', data)
    pretty = webviz.push_frame('micdata', data, pretty=True)
    assert '\n' not in compact and ' ' not in compact
    assert pretty.count('\n') > 10 and '\t"module" : "micdata"' in pretty
    for frame in (compact, pretty):
        assert webviz.parse_push(frame) == Push('micdata', data)
    assert webviz.parse_push(webviz.keepalive_answer()) == KeepaliveAck()


@pytest.mark.parametrize('field, names', [
    ('dominant', {'dominant'}), ('direction', {'direction'}),
    ('both', {'dominant', 'direction'}),
])
def test_micdata_payload_has_every_field(field: str, names: set[str]) -> None:
    data = webviz.micdata_payload(1.5, 4, 99, field=field)
    assert set(data) == names | {
        'time', 'confidence', 'selectedDirection', 'maxConfidence', 'triggerDetected',
        'delayTime', 'activeState', 'latestPowerValue', 'latestNoiseFloor', 'directions',
        'beatDetector'}
    assert len(data['directions']) == 13
    assert set(data['beatDetector']) == {'confidence', 'tempo_bpm'}
    assert webviz.parse_micdata(data).direction == 4


def test_micdata_payload_rejects_unknown_field_name() -> None:
    with pytest.raises(LocalProtocolError):
        webviz.micdata_payload(0.0, 1, 1, field='dom')


@pytest.mark.parametrize('frame', [
    '{"module": "vision", "data": ' + '[' * 1000 + ']' * 1000 + '}',
    '{"module": "' + 'm' * 900_000 + '"}',
    '{"module": 5, "data": 1}', '{"x": ' + '7' * 5000 + '}', b'\xc3\x28',
])
def test_hostile_pushes_raise_only_the_protocol_error(frame: str | bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        webviz.parse_push(frame)
    assert len(str(info.value)) <= 200


def test_republished_data_is_strict_json() -> None:
    push = webviz.parse_push('{"module": "vision", "data": {"x": NaN, "y": [1e400, 2]}}')
    assert webviz.compact_json(push.data) == ('{"x":null,"y":[null,2]}', 2)
    assert webviz.compact_json({'a': 'b'}) == ('{"a":"b"}', 0)


@pytest.mark.parametrize('request_text', [
    '{"a": ' + '[' * 5000 + ']' * 5000 + '}', '[' * 1000 + ']' * 1000, '{"a": "\\ud800"',
])
def test_hostile_requests_raise_only_the_local_error(request_text: str) -> None:
    with pytest.raises(LocalProtocolError):
        webviz.data_frame('intents', request_text)
