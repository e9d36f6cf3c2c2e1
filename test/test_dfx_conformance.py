"""
dfx_sim and our DFX frames against the real DeepAffex client code (test/peers/dfx).

The peer environment (scripts/peers.sh, .ros/peers/dfx) holds PyPI ``dfx-apiv2-client``
0.15.0 and ``dfx-apiv2-protos`` 2.24.0; ``test/peers/dfx/driver.py`` runs in it:

* the real client library's own functions against the installed ``dfx_sim``, called as the
  vendor's ``apiexample.py`` and ``dfxdemo.py`` call them, results read by the demo's decoder;
* every request frame our protocol module writes for ``dfx_bridge`` (``dfx.encode_*``), and
  every answer of ``dfx_sim`` to them, through the vendor's message classes, strictly.

Differences between the simulator and the published schema are named here, not skipped.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
import subprocess
from typing import Any, Callable
import zlib

from peer_helpers import require_peer
import pytest
from robot_bridges.protocols import dfx
from robot_bridges.protocols.dfx import AddData
from ros_helpers import Proc, start_listening
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

TOKEN = 'conformance-token-3f9a'
DRIVER = Path(__file__).resolve().parent / 'peers' / 'dfx' / 'driver.py'


def run_driver(env: Path, *args: str, stdin: str | None = None) -> dict[str, Any]:
    """Run the peer driver with the peer's Python (isolated from this venv); return its JSON."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    result = subprocess.run([str(env / 'bin' / 'python'), '-I', str(DRIVER), *args],
                            input=stdin, capture_output=True, text=True, timeout=90, env=clean)
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def start_sim(procs: Callable[..., Proc]) -> tuple[Proc, str]:
    return start_listening(procs, 'dfx_sim', 0, '--token', TOKEN, '--processing-delay-s',
                           '0.05', timeout=15)


def demo_values(payload: bytes) -> dict[str, float]:
    """Return the simulator's documented signals as the demo's decoder reports them."""
    return {'HR_BPM': (60000 + zlib.crc32(payload) % 60000) / 1000,
            'SNR': len(payload) * 1000 / 1000,
            'MEAN_BYTE': sum(payload) * 1000 // len(payload) / 1000}


def test_the_real_client_library_against_the_simulator(procs: Callable[..., Proc]) -> None:
    env = require_peer('dfx', 'bin/python')
    sim, url = start_sim(procs)
    report = run_driver(env, 'client', '--url', url, '--token', TOKEN)
    assert report['subprotocol'] == 'json'
    # apiexample.py: header, add-data with Params, Action and Payload only.
    # dfxdemo.py: no header, 0718, then every field (float StartTime/EndTime, Meta).
    assert report['auth'] == {'raised': False, 'status': 200,
                              'request_id': report['auth']['request_id'], 'body': ''}
    for scenario in ('apiexample', 'dfxdemo'):
        run = report[scenario]
        measurement_id = f'conf-{scenario}'
        assert run['acknowledged'], scenario
        assert run['statuses'] == [
            {'status': 200, 'body': {'ID': measurement_id, 'ChunkOrder': n}} for n in range(3)
        ], scenario
        assert [r['chunk_number'] for r in run['results']] == [0, 1, 2]
        for result, sent in zip(run['results'], run['sent']):
            expected = demo_values(base64.b64decode(sent['payload']))
            assert {k: result[k] for k in expected} == pytest.approx(expected), scenario
            assert (result['Status'], result['Errors']) == ('OK', None)
            assert result['Notes'] == {name: [] for name in expected}
    errors = report['errors']
    # What the real ws_decode raises for the simulator's error statuses.
    for case, status, code in (('before_auth', 401, 'UNAUTHORIZED'),
                               ('wrong_token', 401, 'INVALID_TOKEN'),
                               ('after_last', 400, 'MEASUREMENT_CLOSED')):
        assert errors[case]['raised'], case
        assert f'API Status {status}' in errors[case]['message'], errors[case]
        assert f'Code: {code}' in errors[case]['message'], errors[case]
    assert errors['auth']['raised'] is False and errors['auth']['status'] == 200
    assert errors['wrong_header'] == {'status': 401}
    assert 'Traceback' not in sim.output and TOKEN not in sim.output


# Chunk 0 declares no duration: chunk 1, sent right after it, is not early (it is processed).
CHUNKS = [AddData('conf-frames', 0, dfx.FIRST, 5, 20, 0.0, b'\x01\x02\x03', b'{"a": 1}'),
          AddData('conf-frames', 1, dfx.LAST, 20, 35, 2.5, b'\x04' * 40, b'')]


async def exchange(url: str, dialect: str) -> list[dict[str, Any]]:
    """Send what dfx_bridge sends for one measurement; return its frames and the answers."""
    ids = dfx.RequestIds()
    requests: list[tuple[str, str, str | bytes]] = []
    if dialect == dfx.JSON:
        request_id = ids.new()
        requests.append(('auth', request_id,
                         dfx.encode_authenticate(dialect, request_id, TOKEN)))
    subscribe_id = ids.new()
    requests.append(('subscribe', subscribe_id,
                     dfx.encode_subscribe(dialect, subscribe_id, 'conf-frames')))
    for chunk in CHUNKS:
        request_id = ids.new()
        requests.append(('add_data', request_id,
                         dfx.encode_add_data(dialect, request_id, chunk)))
    kinds = {request_id: kind for kind, request_id, _ in requests}
    frames = [{'kind': kind, 'dialect': dialect, 'frame': base64.b64encode(
        frame if isinstance(frame, bytes) else frame.encode()).decode()}
        for kind, _, frame in requests]
    subprotocols = [Subprotocol(dfx.SUBPROTOCOL)] if dialect == dfx.JSON else None
    async with connect(url, subprotocols=subprotocols,
                       additional_headers={'Authorization': f'Bearer {TOKEN}'}) as ws:
        for _, _, frame in requests:
            await ws.send(frame)
        # every request answered, then one result per chunk
        for _ in range(len(requests) + len(CHUNKS)):
            answer = await asyncio.wait_for(ws.recv(), 10)
            assert isinstance(answer, bytes)
            kind = kinds[answer[:10].decode()]
            if kind == 'add_data':
                frames.append({'kind': 'data_response', 'dialect': dialect,
                               'frame': base64.b64encode(answer).decode()})
            elif kind == 'subscribe' and len(answer) > dfx.HEADER_LENGTH:
                frames.append({'kind': 'result', 'dialect': dialect,
                               'frame': base64.b64encode(answer).decode()})
            else:  # the acknowledgement, the authentication: status only
                assert answer[10:] == b'200', answer
    return frames


@pytest.mark.parametrize('dialect', dfx.DIALECTS)
def test_our_frames_and_the_simulators_answers_decode_with_the_real_protos(
        procs: Callable[..., Proc], dialect: str) -> None:
    env = require_peer('dfx', 'bin/python')
    _, url = start_sim(procs)
    frames = asyncio.run(exchange(url, dialect))
    assert [f['kind'] for f in frames].count('result') == len(CHUNKS)
    decoded = run_driver(env, 'decode', stdin=json.dumps({'frames': frames}))['decoded']
    for item in decoded:
        assert 'error' not in item, item
        assert item['unknown_fields'] is False, item
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for item in decoded:
        by_kind.setdefault(item['kind'], []).append(item['fields'])
    if dialect == dfx.JSON:
        assert by_kind['auth'] == [{'Token': TOKEN}]
    subscribe = next(item for item in decoded if item['kind'] == 'subscribe')
    assert subscribe['fields'] == {'Params': {'ID': 'conf-frames'},
                                   'RequestID': subscribe['head'][4:]}
    for fields, chunk in zip(by_kind['add_data'], CHUNKS):
        # MessageToDict: 64-bit integers as strings, bytes as base64, defaults left out.
        assert fields['Params'] == {'ID': chunk.measurement_id}
        assert (fields['Action'], fields.get('ChunkOrder', 0), int(fields['StartTime']),
                int(fields['EndTime']), fields.get('Duration', 0.0)) == (
            chunk.action, chunk.chunk_order, chunk.start_time, chunk.end_time, chunk.duration)
        assert base64.b64decode(fields['Payload']) == chunk.payload
        assert base64.b64decode(fields.get('Meta', '')) == chunk.meta
    if dialect == dfx.PROTOBUF:  # the vendor's classes write our bytes back exactly
        for item, frame in zip(decoded, frames):
            if item['kind'] in ('subscribe', 'add_data'):
                assert base64.b64decode(item['serialized']) == base64.b64decode(
                    frame['frame'])[14:]
    assert [(f['ID'], f.get('ChunkOrder', 0)) for f in by_kind['data_response']] == [
        ('conf-frames', 0), ('conf-frames', 1)]
    for fields, chunk in zip(by_kind['result'], CHUNKS):
        assert fields['MeasurementID'] == 'conf-frames'
        assert fields['MeasurementDataID'] == f'conf-frames:{chunk.chunk_order}'
        assert fields['Multiplier'] == 1000 and fields['Error'] == {'Code': 'OK'}
        assert {name: channel['Data'] for name, channel in fields['Channels'].items()} == {
            'HR_BPM': [60000 + zlib.crc32(chunk.payload) % 60000],
            'SNR': [len(chunk.payload) * 1000],
            'MEAN_BYTE': [sum(chunk.payload) * 1000 // len(chunk.payload)]}
    # The named difference: v2 results carry the subscription's RequestID and each channel's
    # Notes (the vendor demo reads Notes), which the published message does not have.
    extras = [item.get('extras') for item in decoded if item['kind'] == 'result']
    assert extras == ([['Channels.*.Notes', 'RequestID']] * 2 if dialect == dfx.JSON
                      else [None, None])
