"""
Executable dfx_sim: a DFX API websocket server that speaks both dialects, on loopback.

* Authentication, either way the real clients do it: the upgrade request carries
  ``Authorization: Bearer <token>`` (a wrong one, or another scheme: HTTP 401), or it
  carries no such header (the vendor's examples where headers cannot be set, the
  JavaScript client always) and the first action is ``0718`` with the token. Until then
  any other action is answered ``401 {"Code": "UNAUTHORIZED", ..}``, a wrong token
  ``401 {"Code": "INVALID_TOKEN", ..}``. The token is ``--token`` or ``$DFX_TOKEN``. A client
  that asks for the websocket subprotocol ``json`` speaks v2 (JSON), any other v1 (protobuf).
* ``0506`` add data: ``Params.ID``, ``Action`` and ``Payload`` are needed, ``ChunkOrder``,
  ``StartTime``, ``EndTime``, ``Duration`` and ``Meta`` are optional (the real client drops
  unset fields; a missing ``ChunkOrder`` is the next one). ``FIRST`` starts the measurement
  afresh, ``CHUNK`` continues it, ``LAST`` closes it, each ``::PROCESS`` or ``::IGNORE`` (no
  result); chunk orders rise; the payload is not empty. Answered ``200`` with the chunk's
  ``DataResponse`` (ID, ChunkOrder) or ``400`` with ``{"Code", "Errors"}``; data after
  ``--measurement-limit-s`` or after ``LAST`` gets ``MEASUREMENT_CLOSED``. A chunk that
  arrives before the previous chunk's ``Duration`` has passed is accepted but not processed
  (logged; no result), as the API does; without a ``Duration`` nothing counts as early.
* ``0510`` subscribe: a 13-byte acknowledgement, then one result per processed chunk,
  ``--processing-delay-s`` after it arrived, tagged with the subscribe's RequestID (v2; the
  request's own ID when the body has none) or request ID (v1); results made while nobody is
  subscribed wait for the next subscriber. v1 results are ``SubscribeResultsResponse``
  messages, v2 results their JSON. The signal values are computed from the payload
  (:func:`signal_values`) so tests can check them.
* ``--verbose``: one log line per request (action, request ID, measurement; never a token).
* ``--tls``: wss with a throwaway CA made at start, written to ``--ca-file`` (printed).
* ``--chaos``: fault injection for tests and demos (see ``CHAOS``).

Library use (tests, benchmarks)::

    sim = await start(port=0, token='t', processing_delay_s=0.0)
    ...
    await sim.close()
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
import logging
import os
from pathlib import Path
import random
import ssl
import sys
import tempfile
import time
from typing import Sequence
import zlib

import numpy as np
from robot_bridges.protocols import dfx, dfx_service
from robot_bridges.protocols.dfx_service import (Authenticate, BadRequest, ReceivedChunk,
                                                 SubscribeResults)
from robot_bridges.protocols.text import excerpt
from robot_bridges.sims import command_line
from robot_bridges.sims.signals import stop_event
from websockets.asyncio.server import broadcast, serve, Server, ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

__all__ = ['DfxSim', 'start', 'signal_values', 'main', 'CHAOS']

CHAOS = {
    'unknown-ids': 'after every add-data status, a response for a request ID never sent',
    'malformed': 'once per measurement, after its subscribe acknowledgement: a short frame, '
                 'a non-ASCII ID, a non-numeric status, a broken result (a truncated protobuf '
                 'in v1, JSON in v2); the status of chunk 0 with a broken body (protobuf in '
                 'v1, JSON in v2)',
    'oversize': 'once per measurement, after its subscribe acknowledgement: a 2 MiB frame',
    'drop': 'once per measurement, drop the connection right after chunk 1 arrived',
    'no-answer': 'never answer the add-data request of chunk 1 (it is processed)',
}
MULTIPLIER = 1000
INT32_MAX = 2**31 - 1  # v1 Data values are sint32
# A chunk counts as early only when it beats the previous chunk's duration by more than this
# (the gap a client measures at sending and the gap at arrival differ by network jitter).
EARLY_TOLERANCE_S = 0.05
MAX_MEASUREMENTS = 10_000
MAX_WAITING_RESULTS = 1000
MAX_FRAME_BYTES = 64 << 20
_log = logging.getLogger('dfx_sim')


def signal_values(payload: bytes) -> dict[str, list[int]]:
    """Return the result channels of a chunk (Data values, scaled by ``MULTIPLIER``)."""
    return {
        'HR_BPM': [60_000 + zlib.crc32(payload) % 60_000],
        'SNR': [min(len(payload) * MULTIPLIER, INT32_MAX)],
        # numpy sums exactly (uint64) and fast: a Python sum() took ~3 ms per 256 KiB chunk.
        'MEAN_BYTE': [int(np.frombuffer(payload, np.uint8).sum(dtype=np.uint64)) * MULTIPLIER //
                      max(len(payload), 1)],
    }


@dataclass(frozen=True, slots=True)
class _Result:
    measurement_id: str
    chunk_order: int
    channels: dict[str, list[int]]


@dataclass(slots=True)
class _Client:
    dialect: str
    authenticated: bool  # by its upgrade's Authorization header, or later by 0718


@dataclass
class _Measurement:
    started: float | None = None
    last_order: int = -1
    last_arrival: float | None = None
    last_duration: float = 0.0
    closed: bool = False
    # connection -> (result tag, dialect)
    subscribers: dict[ServerConnection, tuple[str, str]] = field(default_factory=dict)
    waiting: deque[_Result] = field(default_factory=lambda: deque(maxlen=MAX_WAITING_RESULTS))
    chaos_done: set[str] = field(default_factory=set)


class DfxSim:
    """A running simulated DFX API: its connections, measurements and counters."""

    def __init__(self, token: str, *, measurement_limit_s: float = 120.0,
                 processing_delay_s: float = 1.0, chaos: Sequence[str] = (),
                 ssl_context: ssl.SSLContext | None = None, verbose: bool = False) -> None:
        """Check the options; :func:`start` makes and starts one."""
        if not token:
            raise ValueError('a token is required (--token or DFX_TOKEN)')
        unknown = set(chaos) - set(CHAOS)
        if unknown:
            raise ValueError(f'unknown chaos {sorted(unknown)}; choose from {sorted(CHAOS)}')
        if measurement_limit_s <= 0 or processing_delay_s < 0:
            raise ValueError('need measurement_limit_s > 0 and processing_delay_s >= 0')
        self._token = token
        self.measurement_limit_s = measurement_limit_s
        self.processing_delay_s = processing_delay_s
        self.chaos = frozenset(chaos)
        self._ssl = ssl_context
        self.verbose = verbose
        self.connections: set[ServerConnection] = set()
        self.measurements: dict[str, _Measurement] = {}
        # Counters for tests and demos.
        self.processed = 0
        self.ignored = 0
        self.early = 0
        self.results_sent = 0
        self.rejected_upgrades = 0
        self._server: Server | None = None

    @property
    def port(self) -> int:
        """Return the TCP port the server listens on."""
        assert self._server is not None, 'not started'
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def scheme(self) -> str:
        """Return ``wss`` with TLS, else ``ws``."""
        return 'wss' if self._ssl else 'ws'

    async def _start(self, host: str, port: int) -> None:
        self._server = await serve(
            self._handle, host, port, process_request=self._check_token,
            select_subprotocol=_select_subprotocol, ssl=self._ssl, compression=None,
            max_size=MAX_FRAME_BYTES, close_timeout=1.0, logger=_log)

    def send_raw(self, frame: str | bytes) -> int:
        """Send any frame to every connection (for fault injection)."""
        broadcast(self.connections, frame)
        return len(self.connections)

    async def close(self) -> None:
        """Close every connection (close handshake, bounded) and stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- the opening handshake ------------------------------------------------------------

    def _check_token(self, connection: ServerConnection, request: Request) -> Response | None:
        # No header: accepted, and the client must authenticate with 0718 before anything.
        authorization = request.headers.get('Authorization')
        if authorization is None or authorization == f'Bearer {self._token}':
            return None
        self.rejected_upgrades += 1
        _log.warning('refused an upgrade: wrong bearer token (HTTP 401)')
        return connection.respond(HTTPStatus.UNAUTHORIZED, 'Unauthorized\n')

    # -- one connection -------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        dialect = dfx.JSON if connection.subprotocol == dfx.SUBPROTOCOL else dfx.PROTOBUF
        request = connection.request
        client = _Client(dialect, request is not None and 'Authorization' in request.headers)
        self.connections.add(connection)
        try:
            async for frame in connection:
                self._receive(connection, client, frame)
        except ConnectionClosed:
            pass
        finally:
            self.connections.discard(connection)
            for measurement in self.measurements.values():
                measurement.subscribers.pop(connection, None)

    def _receive(self, connection: ServerConnection, client: _Client,
                 frame: str | bytes) -> None:
        dialect = client.dialect
        try:
            request = dfx_service.parse_request(dialect, frame)
        except BadRequest as exc:
            _log.info('bad request: %s', exc)
            if exc.request_id:
                self._answer(connection, exc.request_id, 400,
                             dfx_service.error_body('INVALID_REQUEST', [str(exc)]))
            return
        body = request.body
        if self.verbose:
            _log.warning('request %s %s%s', request.action, request.request_id,
                         '' if isinstance(body, Authenticate)
                         else f' measurement {excerpt(body.measurement_id)}')
        if isinstance(body, Authenticate):
            if body.token == self._token:
                client.authenticated = True
                self._answer(connection, request.request_id, 200)
            else:
                self._answer(connection, request.request_id, 401, dfx_service.error_body(
                    'INVALID_TOKEN', ['the token was not accepted']))
        elif not client.authenticated:
            self._answer(connection, request.request_id, 401, dfx_service.error_body(
                'UNAUTHORIZED', ['authenticate first: action 0718 with a token, or an '
                                 'Authorization header on the upgrade request']))
        elif isinstance(body, ReceivedChunk):
            self._add_data(connection, dialect, request.request_id, body)
        elif isinstance(body, SubscribeResults):
            self._subscribe(connection, dialect, request.request_id, body)

    def _answer(self, connection: ServerConnection, request_id: str, status: int,
                body: bytes = b'') -> None:
        broadcast((connection,), dfx_service.encode_response(request_id, status, body))

    def _measurement(self, measurement_id: str) -> _Measurement:
        measurement = self.measurements.get(measurement_id)
        if measurement is None:
            if len(self.measurements) >= MAX_MEASUREMENTS:
                del self.measurements[next(iter(self.measurements))]
            measurement = self.measurements[measurement_id] = _Measurement()
        return measurement

    def _add_data(self, connection: ServerConnection, dialect: str, request_id: str,
                  chunk: ReceivedChunk) -> None:
        now = time.monotonic()
        measurement = self._measurement(chunk.measurement_id)
        if measurement.started is None:
            measurement.started = now
        if chunk.stage == 'FIRST' and not measurement.closed:
            # FIRST starts the measurement afresh, dropping the chunks added before it (its
            # time limit still counts from its first data).
            measurement.last_order, measurement.last_arrival = -1, None
        order = (chunk.chunk_order if chunk.chunk_order is not None
                 else measurement.last_order + 1)
        error = self._refusal(measurement, chunk, order, now)
        if error:
            code, reason = error
            _log.info('refused chunk %d of %s: %s', order, excerpt(chunk.measurement_id),
                      reason)
            self._answer(connection, request_id, 400, dfx_service.error_body(code, [reason]))
            return
        early = (measurement.last_arrival is not None and now < measurement.last_arrival +
                 measurement.last_duration - EARLY_TOLERANCE_S)
        measurement.last_order = order
        measurement.last_arrival = now
        measurement.last_duration = chunk.duration or 0.0
        measurement.closed = chunk.stage == 'LAST'
        self._answer_add_data(connection, dialect, request_id, chunk.measurement_id, order,
                              measurement)
        if not chunk.processed:
            self.ignored += 1
        elif early:
            self.early += 1
            _log.warning("measurement %s chunk %d arrived early (before the previous chunk's "
                         'duration passed): not processed', excerpt(chunk.measurement_id),
                         order)
        else:
            self.processed += 1
            asyncio.get_running_loop().call_later(
                self.processing_delay_s, self._produce, chunk.measurement_id, order,
                chunk.payload)
        if order == 1 and 'drop' in self.chaos and 'drop' not in measurement.chaos_done:
            measurement.chaos_done.add('drop')
            _log.warning('chaos: dropping the connection')
            connection.transport.abort()

    def _refusal(self, measurement: _Measurement, chunk: ReceivedChunk, order: int,
                 now: float) -> tuple[str, str] | None:
        assert measurement.started is not None
        if measurement.closed:
            return 'MEASUREMENT_CLOSED', 'the measurement ended with its LAST chunk'
        if now - measurement.started > self.measurement_limit_s:
            return 'MEASUREMENT_CLOSED', (f'the measurement time limit '
                                          f'({self.measurement_limit_s:g} s) was reached')
        if measurement.last_order < 0 and chunk.stage == 'CHUNK':
            return 'INVALID_ACTION', (f'{chunk.action} before the measurement started '
                                      '(FIRST for chunk 0, then CHUNK, LAST at the end; '
                                      'LAST alone for a single chunk)')
        if order <= measurement.last_order:
            return 'INVALID_CHUNK_ORDER', f'chunk {order} after chunk {measurement.last_order}'
        if not chunk.payload:
            return 'INVALID_PAYLOAD', 'the payload is empty'
        return None

    def _answer_add_data(self, connection: ServerConnection, dialect: str, request_id: str,
                         measurement_id: str, order: int, measurement: _Measurement) -> None:
        if order == 1 and 'no-answer' in self.chaos:
            return
        body = dfx_service.data_response_body(dialect, measurement_id, order)
        if (order == 0 and 'malformed' in self.chaos and
                'malformed-status' not in measurement.chaos_done):
            measurement.chaos_done.add('malformed-status')
            body = b'\x0a\x05m' if dialect == dfx.PROTOBUF else b'{"ID": "m'
        self._answer(connection, request_id, 200, body)
        if 'unknown-ids' in self.chaos:
            self._answer(connection, _unknown_id(), 200, b'{"Note":"chaos: nobody asked"}')

    def _subscribe(self, connection: ServerConnection, dialect: str, request_id: str,
                   request: SubscribeResults) -> None:
        measurement = self._measurement(request.measurement_id)
        tag = request.result_id if dialect == dfx.JSON else request_id
        self._answer(connection, request_id, 200)  # the 13-byte acknowledgement
        self._inject_bad_frames(connection, dialect, tag, measurement)
        measurement.subscribers[connection] = (tag, dialect)
        while measurement.waiting:
            self._send_result(connection, tag, dialect, measurement.waiting.popleft())

    def _inject_bad_frames(self, connection: ServerConnection, dialect: str, tag: str,
                           measurement: _Measurement) -> None:
        frames: list[bytes] = []
        if 'malformed' in self.chaos and 'malformed' not in measurement.chaos_done:
            measurement.chaos_done.add('malformed')
            frames += [b'abc', 'é'.encode() + b'12345678200', b'abcdefghij2x0{}',
                       tag.encode() + (b'200\x12\x05m:' if dialect == dfx.PROTOBUF
                                       else b'200{"MeasurementDataID": "m:1", "Chan')]
        if 'oversize' in self.chaos and 'oversize' not in measurement.chaos_done:
            measurement.chaos_done.add('oversize')
            frames.append(_unknown_id().encode() + b'200' + b'x' * (2 << 20))
        for frame in frames:
            broadcast((connection,), frame)

    def _produce(self, measurement_id: str, chunk_order: int, payload: bytes) -> None:
        measurement = self.measurements.get(measurement_id)
        if measurement is None:
            return
        result = _Result(measurement_id, chunk_order, signal_values(payload))
        if not measurement.subscribers:
            measurement.waiting.append(result)
            return
        for connection, (tag, dialect) in list(measurement.subscribers.items()):
            self._send_result(connection, tag, dialect, result)

    def _send_result(self, connection: ServerConnection, tag: str, dialect: str,
                     result: _Result) -> None:
        body = dfx_service.result_body(
            dialect, tag, result.measurement_id, result.chunk_order, result.channels, MULTIPLIER,
            f'{result.measurement_id}:{result.chunk_order}:result')
        self.results_sent += 1
        self._answer(connection, tag, 200, body)


def _select_subprotocol(connection: ServerConnection,
                        subprotocols: Sequence[Subprotocol]) -> Subprotocol | None:
    # v2 clients ask for "json"; a client that asks for nothing speaks v1.
    return Subprotocol(dfx.SUBPROTOCOL) if dfx.SUBPROTOCOL in subprotocols else None


def _unknown_id() -> str:
    return 'zz' + ''.join(random.choice(dfx.ID_ALPHABET) for _ in range(8))


def make_tls(ca_file: str) -> ssl.SSLContext:
    """Create a throwaway CA and a certificate for 127.0.0.1/localhost; write the CA PEM."""
    import trustme  # only needed with --tls
    ca = trustme.CA()
    certificate = ca.issue_cert('127.0.0.1', 'localhost', '::1')
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    ca.cert_pem.write_to_path(ca_file)
    return context


async def start(host: str = '127.0.0.1', port: int = 9080, *, token: str,
                measurement_limit_s: float = 120.0, processing_delay_s: float = 1.0,
                chaos: Sequence[str] = (), ssl_context: ssl.SSLContext | None = None,
                verbose: bool = False) -> DfxSim:
    """
    Start a simulated DFX API; ``port`` 0 picks a free port (see :attr:`DfxSim.port`).

    Raises ValueError for invalid options, OSError if the port cannot be bound.
    """
    sim = DfxSim(token, measurement_limit_s=measurement_limit_s,
                 processing_delay_s=processing_delay_s, chaos=chaos, ssl_context=ssl_context,
                 verbose=verbose)
    await sim._start(host, port)
    return sim


async def serve_until_signalled(args: argparse.Namespace, token: str) -> None:
    """Run until SIGINT or SIGTERM, then close every connection cleanly."""
    context = None
    if args.tls:
        ca_file = args.ca_file or str(Path(tempfile.mkdtemp(prefix='dfx_sim_')) / 'ca.pem')
        context = make_tls(ca_file)
        print(f'dfx_sim: CA certificate written to {ca_file}', flush=True)
    sim = await start(args.host, args.port, token=token,
                      measurement_limit_s=args.measurement_limit_s,
                      processing_delay_s=args.processing_delay_s, chaos=args.chaos,
                      ssl_context=context, verbose=args.verbose)
    host = f'[{args.host}]' if ':' in args.host else args.host
    print(f'dfx_sim: listening on {sim.scheme}://{host}:{sim.port}', flush=True)
    await stop_event().wait()
    await sim.close()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--host', default='127.0.0.1',
                        help='interface to bind (0.0.0.0 for all: ask for it explicitly)')
    parser.add_argument('--port', type=int, default=9080, help='TCP port (0: any free port)')
    parser.add_argument('--token', default='',
                        help='the bearer token clients must send (default: $DFX_TOKEN)')
    parser.add_argument('--tls', action='store_true', help='serve wss with a throwaway CA')
    parser.add_argument('--ca-file', default='', help='where --tls writes its CA certificate')
    parser.add_argument('--measurement-limit-s', type=float, default=120.0,
                        help='data after this many seconds gets MEASUREMENT_CLOSED')
    parser.add_argument('--processing-delay-s', type=float, default=1.0,
                        help='delay between a chunk and its result')
    parser.add_argument('--verbose', action='store_true',
                        help='log every request (action, request ID, measurement)')
    parser.add_argument('--chaos', action='append', default=[], choices=sorted(CHAOS),
                        help='inject a fault (repeatable): ' +
                             '; '.join(f'{k}: {v}' for k, v in CHAOS.items()))
    args = command_line.parse_args(parser, argv)
    if not 0 <= args.port < 65536:
        parser.error('--port must be in 0..65535')
    if args.measurement_limit_s <= 0 or args.processing_delay_s < 0:
        parser.error('need --measurement-limit-s > 0 and --processing-delay-s >= 0')
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges dfx_sim``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='dfx_sim: %(message)s')
    token = args.token or os.environ.get('DFX_TOKEN', '')
    if not token:
        print('dfx_sim: no token: pass --token or set DFX_TOKEN', file=sys.stderr, flush=True)
        return 2
    try:
        asyncio.run(serve_until_signalled(args, token))
    except OSError as exc:
        print(f'dfx_sim: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}',
              file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        pass  # interrupted before the signal handlers were installed
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
