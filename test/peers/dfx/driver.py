"""
The real DeepAffex client library against dfx_sim, and the vendor's protos against our frames.

Runs with the peer environment's Python (scripts/peers.sh: .ros/peers/dfx, from
requirements.txt here), never with the project's: it imports the real client
(PyPI ``dfx-apiv2-client`` 0.15.0) and the vendor's compiled protos (``dfx-apiv2-protos``
2.24.0, which pin protobuf < 4), and nothing of robot_bridges.

``driver.py client --url ws://127.0.0.1:PORT --token T``
    Calls the client library's own functions the way the vendor's examples do and prints
    one JSON report on stdout:

    * ``apiexample``: as ``apiexample.py`` of nuralogix/dfx-apiv2-client-py (commit
      3b3a15dbe58f517ad027853399b8ee81e3c63166, ``measure_websocket``): an
      ``Authorization`` header on the session, ``Measurements.ws_connect``,
      ``ws_subscribe_to_results``, then ``ws_add_data`` with only the measurement, the
      action and the payload; every response through ``Base.ws_decode``.
    * ``dfxdemo``: as ``dfxdemo/dfxdemo.py`` of nuralogix/dfx-demo-py (commit
      655e23253ccb521631c9823964e82e84e9262180) with the header-less path its comments
      describe: no header, ``Organizations.ws_auth_with_token`` and one ``ws.receive()``
      first, then ``ws_add_data`` with chunk order, the SDK's float start and end seconds,
      a duration and metadata, pausing a chunk's duration between chunks.
    * ``errors``: what ``ws_decode`` raises for an action before authentication, a wrong
      token over the socket and data after the measurement's last chunk; and what the
      upgrade with a wrong bearer token gets.

    Results are decoded as the demo's ``DfxSdkHelpers.json_result_to_dict``
    (dfxutils/sdkhelpers.py, same commit) does: reproduced here by its facts
    (:func:`demo_result`), since the demo is not a package.

``driver.py decode`` (JSON on stdin: ``{"frames": [{"kind", "dialect", "frame"}]}``, frames
    base64) decodes each frame with the vendor's message classes, strictly (no unknown
    fields; JSON through protobuf's own parser, which refuses unknown names; what a v2 result
    has beyond the message is taken out first and named), and prints the decoded fields.
"""

import argparse
import asyncio
import base64
import json
import random
import string
import sys
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
import dfx_apiv2_client as dfxapi
from dfx_apiv2_protos import measurements_pb2, organizations_pb2
from google.protobuf import json_format
from google.protobuf.message import Message

TIMEOUT_S = 20.0
CHUNKS = 3


def new_request_id() -> str:
    """Return a request ID as the examples make them: 10 random ASCII letters."""
    return ''.join(random.choices(string.ascii_letters, k=10))


def example_action(chunk_number: int, number_chunks: int) -> str:
    """Return the action the examples' ``determine_action`` gives a chunk."""
    if chunk_number == 0 and number_chunks > 1:
        return 'FIRST::PROCESS'
    return 'LAST::PROCESS' if chunk_number == number_chunks - 1 else 'CHUNK::PROCESS'


def payload_of(label: str, chunk_number: int) -> bytes:
    """Return a chunk's payload: any bytes do, the simulator computes signals from them."""
    return bytes((chunk_number * 31 + i * 7 + len(label)) % 256 for i in range(500))


def demo_result(json_result: Dict[str, Any]) -> Dict[str, Any]:
    """
    Decode a result as the vendor demo does (its facts, not its code).

    The chunk number is the integer after the last ``:`` of ``MeasurementDataID`` (None
    without one), ``Status`` is ``Error.Code`` and ``Errors`` ``Error.Errors`` (None
    without). With ``Channels``: each channel's value is the mean of its ``Data`` divided by
    ``float(Multiplier)`` (None for no data), channels in name order, and each channel's
    ``Notes`` are collected under ``Notes`` when any channel has them.
    """
    data_id = json_result.get('MeasurementDataID')
    error = json_result['Error']
    decoded: Dict[str, Any] = {
        'chunk_number': None if data_id is None else int(data_id.split(':')[-1]),
        'Status': error['Code'],
        'Errors': error.get('Errors'),
    }
    if 'Channels' not in json_result:
        return decoded
    multiplier = float(json_result['Multiplier'])
    notes = {}
    for name in sorted(json_result['Channels']):
        channel = json_result['Channels'][name]
        values = channel['Data']
        decoded[name] = sum(values) / len(values) / multiplier if values else None
        if 'Notes' in channel:
            notes[name] = channel['Notes']
    if notes:
        decoded['Notes'] = notes
    return decoded


class Session:
    """One websocket of the real client, recording every response ws_decode returns."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def decoded(self) -> Tuple[int, str, str]:
        """Return the next response as ``Base.ws_decode`` returns it (or raise what it does)."""
        msg = await asyncio.wait_for(self.ws.receive(), TIMEOUT_S)
        return dfxapi.Measurements.ws_decode(msg)

    async def error_of(self) -> Dict[str, Any]:
        """Return what ws_decode raises for the next response (``raised`` False if nothing)."""
        try:
            status, request_id, payload = await self.decoded()
        except ValueError as exc:
            return {'raised': True, 'message': str(exc)}
        return {'raised': False, 'status': status, 'request_id': request_id, 'body': payload}


async def measure(session: Session, measurement_id: str, full_fields: bool) -> Dict[str, Any]:
    """Subscribe, send CHUNKS chunks, and collect statuses and results until the last."""
    ws = session.ws
    results_id = new_request_id()
    subscribe_id = new_request_id()
    await dfxapi.Measurements.ws_subscribe_to_results(ws, subscribe_id, measurement_id,
                                                      results_id)
    sent: List[Dict[str, Any]] = []
    statuses: Dict[str, Any] = {}
    results: List[Dict[str, Any]] = []
    acknowledged = False
    for number in range(CHUNKS):
        request_id = new_request_id()
        payload = payload_of(measurement_id, number)
        action = example_action(number, CHUNKS)
        if full_fields:  # dfxdemo.py: the SDK chunk's fields
            duration_s = 0.3
            start = round(number * duration_s + 0.0333, 4)
            await dfxapi.Measurements.ws_add_data(
                ws, request_id, measurement_id, action, payload, chunk_order=number,
                start_time_s=start, end_time_s=round(start + duration_s, 4),
                duration_s=duration_s, metadata=json.dumps({'chunk': number}).encode())
            await asyncio.sleep(duration_s)
        else:  # apiexample.py
            await dfxapi.Measurements.ws_add_data(ws, request_id, measurement_id, action,
                                                  payload)
        sent.append({'request_id': request_id, 'action': action,
                     'payload': base64.b64encode(payload).decode('ascii')})
    while len(results) < CHUNKS or len(statuses) < CHUNKS or not acknowledged:
        status, request_id, body = await session.decoded()
        if request_id == results_id:
            results.append(demo_result(json.loads(body)))
        elif request_id == subscribe_id:
            acknowledged = body == '' and status == 200
        else:
            statuses[request_id] = {'status': status, 'body': json.loads(body)}
    return {'sent': sent, 'results': results, 'acknowledged': acknowledged,
            'statuses': [statuses.get(chunk['request_id']) for chunk in sent]}


async def run_client(url: str, token: str) -> Dict[str, Any]:
    """Run the three scenarios against the service at ``url``; return the report."""
    dfxapi.Settings.ws_url = url
    dfxapi.Settings.user_token = token
    report: Dict[str, Any] = {}
    headers = {'Authorization': f'Bearer {token}'}
    async with aiohttp.ClientSession(headers=headers, raise_for_status=True) as http:
        async with dfxapi.Measurements.ws_connect(http) as ws:
            report['apiexample'] = await measure(Session(ws), 'conf-apiexample', False)
            report['subprotocol'] = ws.protocol
    async with aiohttp.ClientSession(raise_for_status=True) as http:
        async with dfxapi.Measurements.ws_connect(http) as ws:
            session = Session(ws)
            if 'Authorization' not in http.headers:
                await dfxapi.Organizations.ws_auth_with_token(ws, new_request_id())
                report['auth'] = await session.error_of()
            report['dfxdemo'] = await measure(session, 'conf-dfxdemo', True)
    report['errors'] = await run_errors(token)
    return report


async def run_errors(token: str) -> Dict[str, Any]:
    """Provoke the error statuses the real client's ws_decode raises for."""
    errors: Dict[str, Any] = {}
    async with aiohttp.ClientSession() as http:
        async with dfxapi.Measurements.ws_connect(http) as ws:
            session = Session(ws)
            await dfxapi.Measurements.ws_subscribe_to_results(
                ws, new_request_id(), 'conf-early', new_request_id())
            errors['before_auth'] = await session.error_of()
            dfxapi.Settings.user_token = 'not-the-token'
            await dfxapi.Organizations.ws_auth_with_token(ws, new_request_id())
            errors['wrong_token'] = await session.error_of()
            dfxapi.Settings.user_token = token
            await dfxapi.Organizations.ws_auth_with_token(ws, new_request_id())
            errors['auth'] = await session.error_of()
            # The apiexample measurement ended with its LAST chunk.
            await dfxapi.Measurements.ws_add_data(ws, new_request_id(), 'conf-apiexample',
                                                  'CHUNK::PROCESS', b'\x01')
            errors['after_last'] = await session.error_of()
    wrong = {'Authorization': 'Bearer not-the-token'}
    async with aiohttp.ClientSession(headers=wrong) as http:
        try:
            async with dfxapi.Measurements.ws_connect(http):
                errors['wrong_header'] = {'status': 101}
        except aiohttp.WSServerHandshakeError as exc:
            errors['wrong_header'] = {'status': exc.status}
    return errors


# -- decode: our frames through the vendor's message classes ---------------------------

MESSAGES = {
    'add_data': measurements_pb2.DataRequest,
    'subscribe': measurements_pb2.SubscribeResultsRequest,
    'auth': organizations_pb2.LoginWithTokenRequest,
    'data_response': measurements_pb2.DataResponse,
    'result': measurements_pb2.SubscribeResultsResponse,
}
REQUEST_KINDS = ('add_data', 'subscribe', 'auth')


def has_unknown_fields(message: Message) -> bool:
    """Whether ``message`` (or any message inside it) holds fields its schema lacks."""
    known = type(message)()
    known.CopyFrom(message)
    known.DiscardUnknownFields()
    return known.ByteSize() != message.ByteSize()


def without_result_extras(value: Dict[str, Any]) -> List[str]:
    """
    Remove what a v2 result has beyond the published message; return those names.

    The subscription's ``RequestID``, and each channel's ``Notes`` (the demo's decoder
    reads them, the message has no such field).
    """
    extras = set()
    if 'RequestID' in value:
        del value['RequestID']
        extras.add('RequestID')
    for channel in value.get('Channels', {}).values():
        if isinstance(channel, dict) and 'Notes' in channel:
            del channel['Notes']
            extras.add('Channels.*.Notes')
    return sorted(extras)


def decode_frame(kind: str, dialect: str, frame: bytes) -> Dict[str, Any]:
    """Decode one frame (a request with its 14-byte head, or a response with its 13)."""
    head = 14 if kind in REQUEST_KINDS else 13
    body = frame[head:]
    message = MESSAGES[kind]()
    decoded: Dict[str, Any] = {'head': frame[:head].decode('ascii'), 'kind': kind}
    try:
        if dialect == 'protobuf':
            message.ParseFromString(body)
            decoded['unknown_fields'] = has_unknown_fields(message)
        else:
            value = json.loads(body)
            if kind == 'result':
                extras = without_result_extras(value)
                if extras:
                    decoded['extras'] = extras
            json_format.ParseDict(value, message)  # unknown names raise
            decoded['unknown_fields'] = False
    except Exception as exc:  # noqa: B902 - any failure is the finding to report
        decoded['error'] = f'{type(exc).__name__}: {exc}'
        return decoded
    decoded['fields'] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    decoded['serialized'] = base64.b64encode(message.SerializeToString()).decode('ascii')
    return decoded


def run_decode(request: Dict[str, Any]) -> Dict[str, Any]:
    """Decode every frame of ``request``."""
    return {'decoded': [decode_frame(item['kind'], item['dialect'],
                                     base64.b64decode(item['frame']))
                        for item in request['frames']]}


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command of the command line; print its JSON report."""
    parser = argparse.ArgumentParser(description='the real DFX client against dfx_sim')
    commands = parser.add_subparsers(dest='command', required=True)
    client = commands.add_parser('client')
    client.add_argument('--url', required=True)
    client.add_argument('--token', required=True)
    commands.add_parser('decode')
    args = parser.parse_args(argv)
    if args.command == 'client':
        report = asyncio.run(asyncio.wait_for(run_client(args.url, args.token), 60))
    else:
        report = run_decode(json.load(sys.stdin))
    print(json.dumps(report))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
