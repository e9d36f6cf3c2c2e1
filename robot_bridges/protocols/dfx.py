"""
DFX API (DeepAffex) websocket protocol (sans-I/O), both dialects.

Requests are ``<action 4><request id 10>`` + body: a serialized protobuf message in a binary
frame (v1, ``protobuf``) or JSON in a text frame (v2, ``json``, websocket subprotocol
``json``; bytes fields base64). Every response, in both dialects, is a binary frame
``<request id 10><status 3>`` + body (empty, protobuf or UTF-8 JSON). A fresh request ID per
request makes every response correlatable: nothing is inferred from lengths.

The client (bridge) side: :func:`encode_add_data`, :func:`encode_subscribe`,
:func:`encode_authenticate`, :func:`parse_response`, :func:`parse_status_body`,
:func:`parse_result` (v2 JSON, and v1 ``SubscribeResultsResponse`` decoded from the published
schema, raw bytes kept). The service (simulator) side is :mod:`dfx_service`.
Errors: :class:`LocalProtocolError` for what we were asked to send, :class:`RemoteProtocolError`
for what the peer sent, whatever the input.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
import itertools
import math
import random
import string
from typing import Any, Iterator

from robot_bridges.protocols import json_text
from robot_bridges.protocols.dfx_proto import adddata_pb2, subscribe_pb2
# Re-exported: callers catch them from the protocol module they use.
from robot_bridges.protocols.errors import LocalProtocolError, RemoteProtocolError
from robot_bridges.protocols.text import excerpt

ADD_DATA = '0506'
SUBSCRIBE_RESULTS = '0510'
AUTHENTICATE = '0718'  # v2 only
ACTIONS = (ADD_DATA, SUBSCRIBE_RESULTS, AUTHENTICATE)

FIRST = 'FIRST::PROCESS'
CHUNK = 'CHUNK::PROCESS'
LAST = 'LAST::PROCESS'
CHUNK_ACTIONS = (FIRST, CHUNK, LAST)
# What the API also accepts: the chunk is added but no result is returned for it.
IGNORE_ACTIONS = ('FIRST::IGNORE', 'CHUNK::IGNORE', 'LAST::IGNORE')
RECEIVED_ACTIONS = CHUNK_ACTIONS + IGNORE_ACTIONS

JSON = 'json'          # v2: websocket subprotocol "json", text requests
PROTOBUF = 'protobuf'  # v1: binary requests
DIALECTS = (JSON, PROTOBUF)
SUBPROTOCOL = 'json'

ACTION_LENGTH = 4
ID_LENGTH = 10
STATUS_LENGTH = 3
HEADER_LENGTH = ID_LENGTH + STATUS_LENGTH  # a subscribe acknowledgement is exactly this
MAX_MEASUREMENT_ID = 256
ID_ALPHABET = string.digits + string.ascii_lowercase
FLOAT32_MAX = 3.4028234663852886e38  # Duration is a protobuf float (32 bits)


@dataclass(frozen=True, slots=True)
class AddData:
    """One chunk of measurement data (action 0506, ``DataRequest``)."""

    measurement_id: str
    chunk_order: int
    action: str
    start_time: int
    end_time: int
    duration: float
    payload: bytes
    meta: bytes = b''

    def problem(self) -> str:
        """Return what makes this request invalid, or '' if nothing does."""
        return (measurement_id_problem(self.measurement_id) or
                range_problem('ChunkOrder', self.chunk_order, 32) or
                range_problem('StartTime', self.start_time, 64) or
                range_problem('EndTime', self.end_time, 64) or
                ('' if self.action in CHUNK_ACTIONS else f'Action {excerpt(self.action)} '
                 f'is not one of {", ".join(CHUNK_ACTIONS)}') or
                ('' if math.isfinite(_as_float(self.duration)) and self.duration >= 0.0
                 else f'Duration {excerpt(self.duration)} is not a finite number >= 0'))


@dataclass(frozen=True, slots=True)
class Response:
    """A response frame: the echoed request ID, the 3-digit status and the raw body."""

    request_id: str
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class StatusBody:
    """What an add-data (or other) status body says."""

    error_code: str
    text: str
    measurement_id: str | None = None
    chunk_order: int | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """One result channel."""

    name: str
    data: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Result:
    """One result chunk of a subscribed measurement."""

    measurement_id: str  # '' when the body does not name it
    chunk_order: int     # -1 when the body does not name it
    error_code: str
    multiplier: float
    signals: tuple[Signal, ...]
    json: str            # the body (v2), or the decoded v1 message rendered as JSON
    raw: bytes           # the v1 body (protobuf) as received; empty in v2
    result_id: str = ''  # MeasurementResultID ('' when absent)


class RequestIds:
    """
    Fresh request IDs: 10 ASCII characters, unique per request on a connection.

    A random 4-character prefix per source and a 6-digit base-36 counter: 2 billion
    requests before a repeat, and IDs of two bridges (or two runs) rarely collide.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        rng = rng or random.Random()
        self._prefix = ''.join(rng.choice(ID_ALPHABET) for _ in range(ID_LENGTH - 6))
        self._counter: Iterator[int] = itertools.count()

    def new(self) -> str:
        """Return the next ID."""
        number = next(self._counter) % 36**6
        digits = ''
        for _ in range(6):
            number, digit = divmod(number, 36)
            digits = ID_ALPHABET[digit] + digits
        return self._prefix + digits


def chunk_action(chunk_order: int, last: bool) -> str:
    """
    Return the Action of a chunk: FIRST for chunk 0, LAST for the final one, else CHUNK.

    A measurement of one chunk sends LAST (it must close the measurement), as the
    reference client does when a measurement has a single chunk.
    """
    if last:
        return LAST
    return FIRST if chunk_order == 0 else CHUNK


# -- requests: encode (bridge) ----------------------------------------------------------


def encode_add_data(dialect: str, request_id: str, chunk: AddData) -> str | bytes:
    """Return the 0506 frame; raises LocalProtocolError for an invalid chunk."""
    problem = chunk.problem() or request_id_problem(request_id)
    if problem:
        raise LocalProtocolError(problem)
    if dialect == PROTOBUF:
        if chunk.duration > FLOAT32_MAX:
            raise LocalProtocolError(f'Duration {chunk.duration!r} does not fit the protobuf '
                                     'float')
        message = adddata_pb2.DataRequest(
            Action=chunk.action, ChunkOrder=chunk.chunk_order, StartTime=chunk.start_time,
            EndTime=chunk.end_time, Duration=chunk.duration, Payload=chunk.payload,
            Meta=chunk.meta)
        message.Params.ID = chunk.measurement_id
        return _binary_request(ADD_DATA, request_id, message.SerializeToString())
    head = _text_request(dialect, ADD_DATA, request_id, {
        'Params': {'ID': chunk.measurement_id}, 'Action': chunk.action,
        'ChunkOrder': chunk.chunk_order, 'StartTime': chunk.start_time,
        'EndTime': chunk.end_time, 'Duration': chunk.duration})
    # The payload (hundreds of kB) is spliced in, not written by json.dumps: base64 text
    # never needs escaping, and scanning it for escapes took longer than encoding it.
    # The frame equals the json.dumps of the whole body (Payload and Meta last).
    return ''.join((head[:-1], ',"Payload":"', base64.b64encode(chunk.payload).decode('ascii'),
                    '","Meta":"', base64.b64encode(chunk.meta).decode('ascii'), '"}'))


def encode_subscribe(dialect: str, request_id: str, measurement_id: str) -> str | bytes:
    """
    Return the 0510 frame; results will be tagged with ``request_id``.

    The body's RequestID is the frame's own request ID, so that the acknowledgement and
    every result chunk carry one ID in both dialects.
    """
    problem = measurement_id_problem(measurement_id) or request_id_problem(request_id)
    if problem:
        raise LocalProtocolError(problem)
    if dialect == PROTOBUF:
        message = subscribe_pb2.SubscribeResultsRequest(RequestID=request_id)
        message.Params.ID = measurement_id
        return _binary_request(SUBSCRIBE_RESULTS, request_id, message.SerializeToString())
    body = {'Params': {'ID': measurement_id}, 'RequestID': request_id}
    return _text_request(dialect, SUBSCRIBE_RESULTS, request_id, body)


def encode_authenticate(dialect: str, request_id: str, token: str) -> str:
    """Return the 0718 frame (v2 only). The frame holds the token: never log it."""
    if dialect != JSON:
        raise LocalProtocolError('action 0718 exists in the json dialect (v2) only')
    problem = request_id_problem(request_id) or ('' if token else 'the token is empty')
    if problem:
        raise LocalProtocolError(problem)
    return _text_request(dialect, AUTHENTICATE, request_id, {'Token': token})


def _binary_request(action: str, request_id: str, body: bytes) -> bytes:
    return (action + request_id).encode('ascii') + body


def _text_request(dialect: str, action: str, request_id: str, body: dict[str, Any]) -> str:
    if dialect != JSON:
        raise LocalProtocolError(f'unknown dialect {excerpt(dialect)}')
    text, _ = json_text.dumps(body, LocalProtocolError)
    return action + request_id + text


# -- responses ------------------------------------------------------------------------


def parse_response(frame: str | bytes) -> Response:
    """
    Split a response frame into ID, status and body; raises RemoteProtocolError.

    Responses are binary frames; a text frame is taken as its UTF-8 bytes.
    """
    raw = frame.encode('utf-8', 'surrogatepass') if isinstance(frame, str) else bytes(frame)
    if len(raw) < HEADER_LENGTH:
        raise RemoteProtocolError(f'short frame ({len(raw)} bytes, need {HEADER_LENGTH})')
    head = raw[:HEADER_LENGTH]
    if any(not 0x21 <= byte <= 0x7e for byte in head[:ID_LENGTH]):
        raise RemoteProtocolError(f'request ID {excerpt(head[:ID_LENGTH])} is not printable '
                                  'ASCII')
    status = head[ID_LENGTH:]
    if not all(0x30 <= byte <= 0x39 for byte in status):
        raise RemoteProtocolError(f'status {excerpt(status)} is not 3 digits')
    return Response(head[:ID_LENGTH].decode('ascii'), int(status), raw[HEADER_LENGTH:])


def parse_status_body(dialect: str, response: Response) -> StatusBody:
    """
    Interpret a status response's body; raises RemoteProtocolError for a broken one.

    2xx: ``OK``, and in v1 a ``DataResponse`` (measurement ID, chunk order), in v2 the
    same fields as JSON when present. Otherwise the error ``Code`` of a JSON body, or
    ``HTTP_<status>`` when the body names none.
    """
    body = response.body
    if response.ok:
        if not body:
            return StatusBody('OK', '')
        if dialect == PROTOBUF:
            data = decode_proto(adddata_pb2.DataResponse, body)
            text, _ = json_text.dumps({'ID': data.ID, 'ChunkOrder': data.ChunkOrder},
                                      RemoteProtocolError)
            return StatusBody('OK', text, data.ID, data.ChunkOrder)
        value = json_text.loads_object(body, RemoteProtocolError)
        mid, order = value.get('ID'), value.get('ChunkOrder')
        return StatusBody('OK', body.decode('utf-8'), mid if type(mid) is str else None,
                          order if type(order) is int and 0 <= order < 2**32 else None)
    code = f'HTTP_{response.status}'
    try:
        value = json_text.loads_object(body, RemoteProtocolError)
    except RemoteProtocolError:
        return StatusBody(code, describe_binary(body))
    named = value.get('Code')
    return StatusBody(named if type(named) is str and named else code, body.decode('utf-8'))


def parse_result(dialect: str, response: Response) -> Result:
    """
    Interpret a result chunk's body; raises RemoteProtocolError for a broken one.

    v2 bodies must be JSON objects. v1 bodies are ``SubscribeResultsResponse`` messages
    (the published schema, ``dfx_proto/subscribe.proto``): decoded into the same fields,
    rendered as JSON with the v2 field names in ``json``, and kept as received in ``raw``
    (for the vendor SDK). The measurement is ``MeasurementID``, else the part of
    ``MeasurementDataID`` before its last ``:``; the chunk is the number after it.
    """
    if dialect == PROTOBUF:
        return _parse_v1_result(response.body)
    body = response.body
    value = json_text.loads_object(body, RemoteProtocolError)
    measurement_id, chunk_order = _measurement_data_id(value.get('MeasurementDataID'))
    named, result_id = value.get('MeasurementID', ''), value.get('MeasurementResultID', '')
    error = value.get('Error')
    code = error.get('Code', '') if type(error) is dict else ''
    multiplier = json_text.number(value.get('Multiplier', 1.0))
    if type(code) is not str or multiplier is None:
        raise RemoteProtocolError('result "Error"."Code" or "Multiplier" has a wrong type')
    if type(named) is not str or type(result_id) is not str:
        raise RemoteProtocolError('result "MeasurementID" or "MeasurementResultID" is not a '
                                  'string')
    return Result(named or measurement_id, chunk_order, code, multiplier,
                  _signals(value.get('Channels', {})), body.decode('utf-8'), b'', result_id)


def _parse_v1_result(body: bytes) -> Result:
    message = decode_proto(subscribe_pb2.SubscribeResultsResponse, body)
    measurement_id, chunk_order = _measurement_data_id(message.MeasurementDataID or None)
    # Maps have no order on the wire: channels and error entries come sorted by name.
    names = sorted(message.Channels)
    channels = {name: {'Data': list(message.Channels[name].Data),
                       'Channel': message.Channels[name].Channel} for name in names}
    error: dict[str, Any] = {'Code': message.Error.Code}
    if message.Error.Errors:
        error['Errors'] = {key: {'msgs': list(message.Error.Errors[key].msgs)}
                           for key in sorted(message.Error.Errors)}
    multiplier = message.Multiplier or 1  # absent (0): 1, as in v2
    text, _ = json_text.dumps({
        'MeasurementID': message.MeasurementID, 'MeasurementDataID': message.MeasurementDataID,
        'MeasurementResultID': message.MeasurementResultID, 'Error': error,
        'Multiplier': multiplier, 'Channels': channels}, RemoteProtocolError)
    signals = tuple(Signal(name, tuple(float(v) for v in channels[name]['Data']))
                    for name in names)
    return Result(message.MeasurementID or measurement_id, chunk_order, message.Error.Code,
                  float(multiplier), signals, text, body, message.MeasurementResultID)


def describe_binary(body: bytes) -> str:
    """Describe a body that is not text: its length and first bytes."""
    return f'<{len(body)} bytes: {excerpt(body[:16])}>' if body else ''


def _measurement_data_id(value: Any) -> tuple[str, int]:
    if value is None:
        return '', -1
    if type(value) is not str:
        raise RemoteProtocolError(f'"MeasurementDataID" is {excerpt(value)}, not a string')
    measurement_id, colon, chunk = value.rpartition(':')
    if not colon:
        return value, -1
    # A chunk number is a uint32: at most 10 digits (and int() never sees a huge string).
    if not chunk.isascii() or not chunk.isdigit() or len(chunk) > 10 or int(chunk) >= 2**32:
        raise RemoteProtocolError(f'"MeasurementDataID" {excerpt(value)} has no chunk number')
    return measurement_id, int(chunk)


def _signals(channels: Any) -> tuple[Signal, ...]:
    if type(channels) is not dict:
        raise RemoteProtocolError(f'"Channels" is {json_text.json_type(channels)}, not an '
                                  'object')
    signals = []
    for name, channel in channels.items():
        data = channel.get('Data') if type(channel) is dict else None
        values = [json_text.number(v) for v in data] if type(data) is list else [None]
        numbers = tuple(v for v in values if v is not None)
        if len(numbers) != len(values):
            raise RemoteProtocolError(f'channel {excerpt(name)} has no numeric "Data" list')
        signals.append(Signal(name, numbers))
    return tuple(signals)


def decode_proto(message_type: Any, body: bytes) -> Any:
    try:
        return message_type.FromString(body)
    except Exception:  # noqa: B902 - DecodeError, and whatever else a broken body raises
        raise RemoteProtocolError(
            f'body is not a valid {message_type.DESCRIPTOR.name} ({describe_binary(body)})'
        ) from None


def _as_float(value: Any) -> float:
    """Return a number we were given as a float; NaN if it is none, or out of range."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def request_id_problem(request_id: str) -> str:
    if (len(request_id) != ID_LENGTH or not request_id.isascii() or
            not all('!' <= c <= '~' for c in request_id)):
        return f'request ID {excerpt(request_id)} is not {ID_LENGTH} printable ASCII characters'
    return ''


def measurement_id_problem(measurement_id: str) -> str:
    """Return why ``measurement_id`` cannot be sent, or '' when it can."""
    if not measurement_id:
        return 'the measurement ID is empty'
    if len(measurement_id) > MAX_MEASUREMENT_ID or not measurement_id.isprintable():
        return (f'measurement ID {excerpt(measurement_id)} is longer than '
                f'{MAX_MEASUREMENT_ID} characters or not printable')
    return ''


def range_problem(name: str, value: int, bits: int) -> str:
    if type(value) is int and 0 <= value < 2**bits:
        return ''
    return f'{name} {excerpt(value)} is not an unsigned {bits}-bit integer'
