"""
DFX API (DeepAffex) websocket protocol, the service's side (sans-I/O): what dfx_sim uses.

The framing, the constants and the client's side are :mod:`dfx`.

:func:`parse_request` takes what the real clients send: ``Params.ID``, ``Action`` and
``Payload`` of an add-data request, the other fields optional as the API's schema has them
(the real client, PyPI ``dfx-apiv2-client`` 0.15.0, drops unset fields); JSON requests in text
or binary frames (the JavaScript client sends binary); an empty subscribe ``RequestID``; and
in v1 ``0718`` as the published ``LoginWithTokenRequest``. It raises :class:`BadRequest` only.
:func:`encode_response` and the body builders (:func:`data_response_body`,
:func:`error_body`, :func:`result_body`) raise :class:`LocalProtocolError`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
import math
import struct
from typing import Any

from robot_bridges.protocols import json_text
from robot_bridges.protocols.dfx import (ACTION_LENGTH, ACTIONS, AddData, AUTHENTICATE,
                                         decode_proto, ID_LENGTH, LocalProtocolError,
                                         measurement_id_problem, PROTOBUF, range_problem,
                                         RECEIVED_ACTIONS, RemoteProtocolError,
                                         request_id_problem, SUBSCRIBE_RESULTS)
from robot_bridges.protocols.dfx_proto import adddata_pb2, login_pb2, subscribe_pb2
from robot_bridges.protocols.text import excerpt


class BadRequest(RemoteProtocolError):
    """A request the service cannot use; ``request_id`` is its ID when that was valid."""

    def __init__(self, message: str, request_id: str = '') -> None:
        super().__init__(message)
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class ReceivedChunk:
    """
    A 0506 request as the service receives it.

    ``Params.ID``, ``Action`` and ``Payload`` are what every client sends; the other fields
    are optional in the API's schema (None when absent): the real client
    (``dfx-apiv2-client`` 0.15.0 ``Measurements.ws_add_data``) drops the unset ones, and
    its example ``apiexample.py`` sends none of them. In v1 (proto3) a field holding its
    default (0) cannot be told from an absent one and reads as absent.
    """

    measurement_id: str
    action: str
    payload: bytes
    chunk_order: int | None = None
    start_time: float | None = None
    end_time: float | None = None
    duration: float | None = None
    meta: bytes = b''

    @property
    def stage(self) -> str:
        """Return FIRST, CHUNK or LAST."""
        return self.action.partition('::')[0]

    @property
    def processed(self) -> bool:
        """Whether a result is to be returned for this chunk (``::PROCESS``)."""
        return self.action.endswith('::PROCESS')

    def problem(self) -> str:
        """Return what makes this request invalid, or '' if nothing does."""
        return (measurement_id_problem(self.measurement_id) or
                ('' if self.action in RECEIVED_ACTIONS else f'Action {excerpt(self.action)} '
                 f'is not one of {", ".join(RECEIVED_ACTIONS)}') or
                ('' if self.chunk_order is None else
                 range_problem('ChunkOrder', self.chunk_order, 32)) or
                next((f'{name} {excerpt(value)} is not a finite number >= 0'
                      for name, value in (('StartTime', self.start_time),
                                          ('EndTime', self.end_time),
                                          ('Duration', self.duration))
                      if value is not None and not (math.isfinite(value) and value >= 0)), ''))


@dataclass(frozen=True, slots=True)
class SubscribeResults:
    """A subscription to a measurement's results (action 0510)."""

    measurement_id: str
    # The ID result chunks will be tagged with: the body's RequestID, or the request's own
    # ID when the body has none (the JavaScript client sends an empty one).
    result_id: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Authentication over the socket (action 0718; in v1 a ``LoginWithTokenRequest``)."""

    token: str = field(repr=False)  # a secret: never in a repr or a log line


@dataclass(frozen=True, slots=True)
class Request:
    """A request as the service receives it."""

    action: str
    request_id: str
    body: ReceivedChunk | SubscribeResults | Authenticate


def as_received(chunk: AddData, dialect: str) -> ReceivedChunk:
    """
    Return what the service reads from the frame :func:`dfx.encode_add_data` writes.

    Every field is sent; v1 (proto3) cannot tell a 0 from an absent field.
    """
    start, end = float(chunk.start_time), float(chunk.end_time)
    if dialect == PROTOBUF:
        duration = struct.unpack('<f', struct.pack('<f', chunk.duration))[0]
        return ReceivedChunk(chunk.measurement_id, chunk.action, chunk.payload,
                             chunk.chunk_order or None, start or None, end or None,
                             duration or None, chunk.meta)
    return ReceivedChunk(chunk.measurement_id, chunk.action, chunk.payload, chunk.chunk_order,
                         start, end, float(chunk.duration), chunk.meta)


def parse_request(dialect: str, frame: str | bytes) -> Request:
    """
    Decode a request the service received. Raises :class:`BadRequest` for anything invalid.

    Its ``request_id`` is the request's ID when the frame had a valid one (so that the
    service can answer it with an error status), else ''.
    """
    raw = frame.encode('utf-8', 'surrogatepass') if isinstance(frame, str) else bytes(frame)
    header = raw[:ACTION_LENGTH + ID_LENGTH]
    if len(header) < ACTION_LENGTH + ID_LENGTH:
        raise BadRequest(f'short request ({len(raw)} bytes)')
    try:
        action = header[:ACTION_LENGTH].decode('ascii')
        request_id = header[ACTION_LENGTH:].decode('ascii')
    except UnicodeDecodeError:
        raise BadRequest('action or request ID is not ASCII') from None
    problem = request_id_problem(request_id)
    if problem:
        raise BadRequest(problem)
    body = raw[ACTION_LENGTH + ID_LENGTH:]
    try:
        if action not in ACTIONS:
            raise RemoteProtocolError(f'unknown action {excerpt(action)}')
        if dialect == PROTOBUF:
            return Request(action, request_id, _parse_binary_body(action, body, request_id))
        return Request(action, request_id, _parse_json_body(action, body, request_id))
    except RemoteProtocolError as exc:
        raise BadRequest(str(exc), request_id) from None


def _parse_binary_body(action: str, body: bytes, request_id: str
                       ) -> ReceivedChunk | SubscribeResults | Authenticate:
    if action == AUTHENTICATE:
        token = decode_proto(login_pb2.LoginWithTokenRequest, body).Token
        if not token:
            raise RemoteProtocolError('0718 without a "Token"')
        return Authenticate(token)
    if action == SUBSCRIBE_RESULTS:
        subscribe = decode_proto(subscribe_pb2.SubscribeResultsRequest, body)
        return _checked_subscribe(subscribe.Params.ID, subscribe.RequestID, request_id)
    data = decode_proto(adddata_pb2.DataRequest, body)
    # proto3: 0 is both the default and "not sent".
    return _checked_chunk(ReceivedChunk(
        data.Params.ID, data.Action, data.Payload, data.ChunkOrder or None,
        float(data.StartTime) or None, float(data.EndTime) or None, data.Duration or None,
        data.Meta))


def _parse_json_body(action: str, body: bytes, request_id: str
                     ) -> ReceivedChunk | SubscribeResults | Authenticate:
    value = json_text.loads_object(body, RemoteProtocolError)
    if action == AUTHENTICATE:
        token = value.get('Token')
        if type(token) is not str or not token:
            raise RemoteProtocolError('0718 without a string "Token"')
        return Authenticate(token)
    params = value.get('Params')
    measurement_id = params.get('ID') if type(params) is dict else None
    if type(measurement_id) is not str:
        raise RemoteProtocolError('no string "Params"."ID"')
    if action == SUBSCRIBE_RESULTS:
        result_id = value.get('RequestID')
        if result_id is not None and type(result_id) is not str:
            raise RemoteProtocolError('0510 "RequestID" is not a string')
        return _checked_subscribe(measurement_id, result_id or '', request_id)
    chunk_action = value.get('Action')
    if type(chunk_action) is not str:
        raise RemoteProtocolError('0506 without a string "Action"')
    chunk_order = value.get('ChunkOrder')
    if chunk_order is not None and type(chunk_order) is not int:
        raise RemoteProtocolError(f'"ChunkOrder" is {excerpt(chunk_order)}, not an integer')
    return _checked_chunk(ReceivedChunk(
        measurement_id, chunk_action, _base64_field(value, 'Payload'), chunk_order,
        _optional_number(value, 'StartTime'), _optional_number(value, 'EndTime'),
        _optional_number(value, 'Duration'), _base64_field(value, 'Meta')))


def _optional_number(value: dict[str, Any], name: str) -> float | None:
    """
    Return a field that may be absent (or null), a JSON number, or a string holding one.

    The real client passes StartTime / EndTime through as given: the vendor's demo sends
    the SDK's float seconds, and the client's own type hints say strings.
    """
    field_value = value.get(name)
    if field_value is None:
        return None
    if type(field_value) is str and len(field_value) <= 40:
        try:
            return float(field_value)
        except ValueError:
            pass
    number = json_text.number(field_value)
    if number is None:
        raise RemoteProtocolError(f'"{name}" is {excerpt(field_value)}, not a number')
    return number


def _checked_chunk(data: ReceivedChunk) -> ReceivedChunk:
    problem = data.problem()
    if problem:
        raise RemoteProtocolError(problem)
    return data


def _checked_subscribe(measurement_id: str, result_id: str,
                       request_id: str) -> SubscribeResults:
    # Results go out under ``result_id`` as the 10-byte ID of their frames: it must be one.
    result_id = result_id or request_id
    problem = measurement_id_problem(measurement_id)
    if not problem and request_id_problem(result_id):
        problem = (f'"RequestID" {excerpt(result_id)} is not {ID_LENGTH} printable ASCII '
                   'characters (the results are sent under it)')
    if problem:
        raise RemoteProtocolError(problem)
    return SubscribeResults(measurement_id, result_id)


def _base64_field(value: dict[str, Any], name: str) -> bytes:
    text = value.get(name, '')
    if type(text) is not str:
        raise RemoteProtocolError(f'"{name}" is not a base64 string')
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RemoteProtocolError(f'"{name}" is not valid base64') from None


def encode_response(request_id: str, status: int, body: bytes = b'') -> bytes:
    """Return a response frame (binary in both dialects)."""
    problem = request_id_problem(request_id)
    if problem or not 100 <= status <= 999:
        raise LocalProtocolError(problem or f'status {excerpt(status)} is not 3 digits')
    return f'{request_id}{status:03d}'.encode('ascii') + body


def data_response_body(dialect: str, measurement_id: str, chunk_order: int) -> bytes:
    """Return an add-data status body: a DataResponse (v1) or its JSON (v2)."""
    problem = (measurement_id_problem(measurement_id) or
               range_problem('ChunkOrder', chunk_order, 32))
    if problem:
        raise LocalProtocolError(problem)
    if dialect == PROTOBUF:
        return adddata_pb2.DataResponse(ID=measurement_id,
                                        ChunkOrder=chunk_order).SerializeToString()
    text, _ = json_text.dumps({'ID': measurement_id, 'ChunkOrder': chunk_order},
                              LocalProtocolError)
    return text.encode('utf-8')


def error_body(code: str, errors: Any) -> bytes:
    """Return an error body ``{"Code": .., "Errors": ..}`` (both dialects)."""
    text, _ = json_text.dumps({'Code': code, 'Errors': errors}, LocalProtocolError)
    return text.encode('utf-8')


def result_body(dialect: str, tag: str, measurement_id: str, chunk_order: int,
                channels: dict[str, list[int]], multiplier: int,
                measurement_result_id: str = '') -> bytes:
    """
    Return a result chunk's body; raises LocalProtocolError for values it cannot carry.

    v1: a ``SubscribeResultsResponse`` (``Data`` values are sint32). v2: its JSON, with the
    subscription's ``RequestID`` first and an empty ``Notes`` list in every channel.
    """
    problem = (measurement_id_problem(measurement_id) or
               range_problem('ChunkOrder', chunk_order, 32))
    data_id = f'{measurement_id}:{chunk_order}'
    if dialect == PROTOBUF:
        message = subscribe_pb2.SubscribeResultsResponse(
            MeasurementID=measurement_id, MeasurementDataID=data_id,
            MeasurementResultID=measurement_result_id)
        message.Error.Code = 'OK'
        try:
            message.Multiplier = multiplier
            for name, data in channels.items():
                channel = message.Channels[name]
                channel.Data.extend(data)
                channel.Channel = name
        except (TypeError, ValueError) as exc:
            problem = problem or f'a result value does not fit the protobuf: {exc}'
        if problem:
            raise LocalProtocolError(problem)
        return message.SerializeToString(deterministic=True)
    if problem:
        raise LocalProtocolError(problem)
    text, _ = json_text.dumps({
        'RequestID': tag, 'MeasurementID': measurement_id, 'MeasurementDataID': data_id,
        'MeasurementResultID': measurement_result_id, 'Error': {'Code': 'OK'},
        'Multiplier': multiplier,
        'Channels': {name: {'Data': data, 'Notes': []} for name, data in channels.items()},
    }, LocalProtocolError)
    return text.encode('utf-8')
