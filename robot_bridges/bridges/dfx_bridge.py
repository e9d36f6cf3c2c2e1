"""
Node dfx_bridge: the DFX API as ROS: measurement chunks in, streamed results out.

One authenticated websocket (``Authorization: Bearer``; v2 also ``0718`` after every
connect) carries every request; one reader dispatches each response by its request ID: to
the pending request it answers (add-data status, subscribe acknowledgement, authentication),
else to the subscription whose results carry that ID, else to ``unknown``. Chunks wait in a
bounded queue, in order, while disconnected, and with ``pace_chunks`` each waits until the
previous chunk of its measurement has been out for its duration. After a reconnect: the
authentication, a fresh ``0510`` for every unfinished subscription, then the queued chunks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
import os
import ssl
import time
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit

from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.task import Future
from robot_bridges.msg import DfxChunk, DfxResult, DfxStatus
from robot_bridges.node import params
from robot_bridges.node.qos import reliable
from robot_bridges.node.runner import run_bridge
from robot_bridges.node.websocket_bridge import WebSocketBridge
from robot_bridges.protocols import dfx
from robot_bridges.protocols.dfx import (AddData, describe_binary, LocalProtocolError,
                                         RemoteProtocolError, Response, StatusBody)
from robot_bridges.protocols.dfx_pending import Pending, PendingRequests, Subscriptions
from robot_bridges.protocols.text import excerpt
from robot_bridges.runtime.link import Frame
from robot_bridges.runtime.loop_thread import LoopThread
from robot_bridges.srv import DfxSubscribeResults
from robot_bridges.translate import dfx as translate

EXPIRY_PERIOD_S = 0.1
MAX_PACED_MEASUREMENTS = 1000
Outcome = tuple[bool, str, str]  # success, message, request_id


@dataclass(slots=True)
class _Waiter:
    """A subscribe_results call waiting for its acknowledgement (loop thread only)."""

    future: Future
    timer: asyncio.TimerHandle | None = None


class DfxBridge(WebSocketBridge):
    """``chunks`` -> 0506, ``subscribe_results`` -> 0510, responses -> ``results`` etc."""

    DEFAULT_NAMESPACE = 'dfx'

    def __init__(self, loop: LoopThread, **kwargs: Any) -> None:
        """Create the node; interfaces and link come with the configure transition."""
        kwargs.setdefault('namespace', self.DEFAULT_NAMESPACE)
        super().__init__('dfx_bridge', loop, **kwargs)
        self._link_ready = False
        self._unverified_tls = False
        self._wakeup: asyncio.Event | None = None

    def declare_bridge_parameters(self) -> None:
        """Declare the parameters of issue 8."""
        params.declare(self, 'url', 'wss://api.deepaffex.ai',
                       'DFX API, wss:// or ws:// (default: the vendor client default, port 443).')
        params.declare(self, 'dialect', dfx.JSON,
                       'json (v2, subprotocol "json") or protobuf (v1).')
        params.declare(self, 'token', '',
                       'User or device token (a secret); empty: the environment variable '
                       'DFX_TOKEN.')
        params.declare(self, 'auth_action', False,
                       'Also authenticate with action 0718 after every connect (json only).')
        params.declare(self, 'ca_file', '', 'Extra CA bundle (PEM) to trust, for wss://.')
        params.declare(self, 'tls_verify', True,
                       'Verify the server certificate (false: warned on every connect).')
        params.declare(self, 'request_timeout_s', 10.0,
                       'A request unanswered this long is reported as TIMEOUT.',
                       min_value=0.1, max_value=3600.0)
        params.declare(self, 'pace_chunks', True,
                       "Hold a chunk until the previous chunk's duration has passed.")
        params.declare(self, 'chunk_queue_size', 100,
                       'Chunks kept while disconnected or paced; overflow drops the oldest.',
                       min_value=1, max_value=100_000)
        params.declare(self, 'max_message_bytes', 4 << 20,
                       'Largest frame accepted; a larger one closes and reopens the link.',
                       min_value=1024, max_value=1 << 30)
        params.declare(self, 'qos_depth', 100, 'History depth of every topic.',
                       min_value=1, max_value=1_000_000)

    def setup(self) -> None:
        """Validate the parameters; create the link, publishers, subscription and service."""
        url = params.get(self, 'url')
        self._dialect = params.get(self, 'dialect')
        if self._dialect not in dfx.DIALECTS:
            raise ValueError(f'dialect must be json or protobuf, got {excerpt(self._dialect)}')
        self._token = params.get(self, 'token') or os.environ.get('DFX_TOKEN', '')
        if not self._token:
            raise ValueError('no token: set parameter token or the environment variable '
                             'DFX_TOKEN')
        if not all('!' <= c <= '~' for c in self._token):
            raise ValueError('the token holds characters an HTTP header cannot carry')
        self._auth_action = params.get(self, 'auth_action')
        if self._auth_action and self._dialect != dfx.JSON:
            raise ValueError('auth_action (0718) exists in the json dialect only')
        self._tls_verify = params.get(self, 'tls_verify')
        tls = self._tls_context(url)
        self._unverified_tls = tls is not None and not self._tls_verify
        self.setup_client(
            url, max_message_bytes=params.get(self, 'max_message_bytes'), hello=self._hello,
            headers={'Authorization': f'Bearer {self._token}'},
            subprotocols=(dfx.SUBPROTOCOL,) if self._dialect == dfx.JSON else (),
            ssl_context=tls)
        self.secrets = (*self.secrets, self._token)
        self._pace = params.get(self, 'pace_chunks')
        self._timeout_s = params.get(self, 'request_timeout_s')
        self._ids = dfx.RequestIds()
        self._pending = PendingRequests(self._timeout_s)
        self._streams = Subscriptions()
        self._chunks: deque[AddData] = deque()
        self._chunk_limit = params.get(self, 'chunk_queue_size')
        self._ready_at: dict[str, float] = {}  # measurement -> when its next chunk may go
        self._waiters: dict[str, list[_Waiter]] = {}
        self._counts = {'unknown_responses': 0, 'timeouts': 0, 'error_statuses': 0}
        qos = reliable(params.get(self, 'qos_depth'))
        self._results = self.make_publisher(DfxResult, 'results', qos)
        self._statuses = self.make_publisher(DfxStatus, 'add_data_status', qos)
        self._unknown = self.make_publisher(DfxStatus, 'unknown', qos)
        self.make_subscription(DfxChunk, 'chunks', self._on_chunk, qos)
        # Its own group: while a call awaits its acknowledgement, the default group (chunks,
        # timers) must stay free; the executor is still the one single-threaded executor.
        self.make_service(DfxSubscribeResults, 'subscribe_results', self._on_subscribe,
                          callback_group=ReentrantCallbackGroup())

    def _tls_context(self, url: str) -> ssl.SSLContext | None:
        ca_file = params.get(self, 'ca_file')
        if urlsplit(url).scheme.lower() != 'wss':
            if ca_file:
                raise ValueError('ca_file applies to wss:// URLs only')
            return None
        context = ssl.create_default_context()
        if ca_file:
            try:
                context.load_verify_locations(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f'ca_file {excerpt(ca_file)} is not a readable PEM CA '
                                 f'bundle: {exc}') from None
        if not self._tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def diagnostic_values(self) -> Iterable[tuple[str, str]]:
        """Report queues, pending requests, subscriptions and response counters."""
        if self._client is None:
            return ()
        return (*super().diagnostic_values(),
                ('chunks_queued', str(len(self._chunks))),
                ('pending_requests', str(len(self._pending))),
                ('subscriptions', str(len(self._streams))),
                *((name, str(count)) for name, count in self._counts.items()))

    # -- asyncio thread: link -------------------------------------------------------------

    async def run_link(self) -> None:
        """Run the websocket, the chunk pump and the request timeouts together."""
        self._wakeup = asyncio.Event()
        helpers = [asyncio.ensure_future(self._pump()), asyncio.ensure_future(self._expire())]
        try:
            await super().run_link()
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    def _hello(self) -> Sequence[Frame]:
        # Sent first on every connection: authentication, then every unfinished subscription.
        self._streams.disconnected()
        frames: list[Frame] = []
        if self._auth_action:
            request_id = self._ids.new()
            frames.append(dfx.encode_authenticate(self._dialect, request_id, self._token))
            self._pending.add(request_id, dfx.AUTHENTICATE, time.monotonic())
        for measurement_id in self._streams.unfinished():
            frames.append(self._subscribe_frame(measurement_id))
        return frames

    def link_up(self) -> None:
        """Announce the link; subscribe what was asked for meanwhile; release the chunks."""
        super().link_up()
        if self._unverified_tls:
            self.get_logger().warning('tls_verify is false: the server certificate was NOT '
                                      'verified')
        self._link_ready = True
        for measurement_id in self._streams.unsent():
            self._send(self._subscribe_frame(measurement_id), 'subscribe request')
        if self._wakeup is not None:
            self._wakeup.set()

    def link_down(self, reason: str) -> None:
        """Stop the chunks; the next connection subscribes again under new IDs."""
        self._link_ready = False
        self._streams.disconnected()
        super().link_down(reason)

    def _subscribe_frame(self, measurement_id: str) -> Frame:
        request_id = self._ids.new()
        self._pending.add(request_id, dfx.SUBSCRIBE_RESULTS, time.monotonic(), measurement_id)
        self._streams.sent(measurement_id, request_id)
        return dfx.encode_subscribe(self._dialect, request_id, measurement_id)

    def _send(self, frame: Frame, what: str) -> None:
        if self._client is not None and not self._client.send(frame):
            self.count_dropped(f'outbox full: dropped the oldest {what}')

    # -- asyncio thread: chunks -----------------------------------------------------------

    def _queue_chunk(self, chunk: AddData) -> None:
        if len(self._chunks) >= self._chunk_limit:
            self._chunks.popleft()
            self.count_dropped('chunk queue full: dropped the oldest chunk')
        self._chunks.append(chunk)
        if self._wakeup is not None:
            self._wakeup.set()

    async def _pump(self) -> None:
        assert self._wakeup is not None
        chunks = self._chunks
        while True:
            if not (chunks and self._link_ready):
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            chunk = chunks[0]
            hold = self._ready_at.get(chunk.measurement_id, 0.0) - time.monotonic()
            if self._pace and hold > 0:
                await asyncio.sleep(hold)
                continue  # the head may have changed (overflow) or the link dropped
            client = self._client
            if client is not None and client.outbox.full:
                # Chunks wait in their own queue (bounded, counted) rather than push
                # requests out of the socket's outbox.
                await client.outbox.room()
                continue
            chunks.popleft()
            self._send_chunk(chunk)

    def _send_chunk(self, chunk: AddData) -> None:
        request_id = self._ids.new()
        try:
            frame = dfx.encode_add_data(self._dialect, request_id, chunk)
        except LocalProtocolError as exc:
            self.count_bad_input(f'rejected a chunk: {exc}')
            return
        now = time.monotonic()
        evicted = self._pending.add(request_id, dfx.ADD_DATA, now, chunk.measurement_id,
                                    chunk.chunk_order)
        if evicted is not None:
            self._timed_out(evicted)
        self._send(frame, 'chunk')
        ready_at = self._ready_at
        ready_at.pop(chunk.measurement_id, None)
        if chunk.action == dfx.LAST:
            self._streams.last_chunk(chunk.measurement_id, chunk.chunk_order)
        else:
            ready_at[chunk.measurement_id] = now + chunk.duration
            if len(ready_at) > MAX_PACED_MEASUREMENTS:
                del ready_at[next(iter(ready_at))]

    async def _expire(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_PERIOD_S)
            for pending in self._pending.expire(time.monotonic()):
                self._timed_out(pending)

    def _timed_out(self, pending: Pending) -> None:
        self._counts['timeouts'] += 1
        self.get_logger().warning(
            f'no answer to request {pending.request_id} (action {pending.action}, measurement '
            f'{excerpt(pending.measurement_id)}) within {self._timeout_s:g} s',
            throttle_duration_sec=1.0)
        self._statuses.publish(translate.timeout_message(pending, self._stamp()))

    # -- asyncio thread: responses (hot path) ---------------------------------------------

    def link_frame(self, frame: Frame) -> None:
        """Dispatch one response by its request ID."""
        try:
            response = dfx.parse_response(frame)
        except RemoteProtocolError as exc:
            self.count_bad_input(f'bad frame: {exc}')
            return
        self.stats.messages_in += 1
        pending = self._pending.pop(response.request_id)
        if pending is None:
            measurement_id = self._streams.measurement_of(response.request_id)
            if measurement_id is not None:
                self._result(measurement_id, response)
            else:
                self._unknown_response(response)
        elif pending.action == dfx.ADD_DATA:
            self._add_data_status(pending, response)
        elif pending.action == dfx.SUBSCRIBE_RESULTS:
            self._acknowledgement(pending, response)
        else:
            self._authentication(response)

    def _result(self, measurement_id: str, response: Response) -> None:
        try:
            result = dfx.parse_result(self._dialect, response)
        except RemoteProtocolError as exc:
            self.count_bad_input(f'bad result: {exc}')
            return
        self._results.publish(translate.result_message(result, response.request_id,
                                                       measurement_id, self._stamp()))
        # The subscription the request ID belongs to is finished by its last chunk's result,
        # in both dialects, whatever measurement the body names.
        if result.chunk_order >= 0:
            self._streams.result(measurement_id, result.chunk_order)

    def _add_data_status(self, pending: Pending, response: Response) -> None:
        body = self._status_body(response, 'add-data status')
        self._statuses.publish(translate.status_message(pending, response, body, self._stamp()))
        if response.ok:
            return
        self._counts['error_statuses'] += 1
        where = f'chunk {pending.chunk_order} of measurement {excerpt(pending.measurement_id)}'
        if body.error_code == 'MEASUREMENT_CLOSED':
            self._streams.finish(pending.measurement_id)
            self.get_logger().warning(
                f'{where}: MEASUREMENT_CLOSED (status {response.status}): the measurement is '
                'closed (its time limit was reached, or it ended)', throttle_duration_sec=1.0)
        else:
            self.get_logger().warning(
                f'{where}: status {response.status} {excerpt(body.error_code)}',
                throttle_duration_sec=1.0)

    def _acknowledgement(self, pending: Pending, response: Response) -> None:
        measurement_id = pending.measurement_id
        if response.ok:
            self._streams.acknowledged(response.request_id)
            self._answer_waiters(measurement_id, (True, 'subscribed', response.request_id))
            return
        body = self._status_body(response, 'subscribe status')
        self._counts['error_statuses'] += 1
        self._streams.finish(measurement_id)
        message = f'status {response.status} {excerpt(body.error_code)}'
        self.get_logger().warning(f'subscribing to {excerpt(measurement_id)} failed: {message}')
        self._answer_waiters(measurement_id, (False, message, response.request_id))

    def _authentication(self, response: Response) -> None:
        if response.ok:
            return
        body = self._status_body(response, 'authentication status')
        self._counts['error_statuses'] += 1
        self.get_logger().error(f'authentication (0718) refused: status {response.status} '
                                f'{excerpt(body.error_code)}', throttle_duration_sec=5.0)

    def _status_body(self, response: Response, what: str) -> StatusBody:
        try:
            return dfx.parse_status_body(self._dialect, response)
        except RemoteProtocolError as exc:
            self.count_bad_input(f'bad {what}: {exc}')
            code = 'OK' if response.ok else f'HTTP_{response.status}'
            return StatusBody(code, describe_binary(response.body))

    def _unknown_response(self, response: Response) -> None:
        self._counts['unknown_responses'] += 1
        self.get_logger().warning(
            f'a response for request ID {excerpt(response.request_id)}, which matches '
            f'nothing pending (unknown responses: {self._counts["unknown_responses"]})',
            throttle_duration_sec=1.0)
        self._unknown.publish(translate.unknown_message(response, self._stamp()))

    def _stamp(self) -> Any:
        return self.get_clock().now().to_msg()

    # -- subscribe_results: the executor awaits, the loop answers ------------------------

    def _subscribe(self, measurement_id: str, future: Future) -> None:
        waiter = _Waiter(future)
        self._waiters.setdefault(measurement_id, []).append(waiter)
        waiter.timer = asyncio.get_running_loop().call_later(
            self._timeout_s, self._give_up, measurement_id, waiter)
        state = self._streams.state(measurement_id)
        if state is None:
            self._streams.want(measurement_id)
            state = ('', False)
        request_id, acknowledged = state
        if acknowledged:
            self._answer_waiters(measurement_id, (True, 'already subscribed', request_id))
        elif not request_id and self._link_ready:
            self._send(self._subscribe_frame(measurement_id), 'subscribe request')
        # else: sent and waiting for its acknowledgement, or sent on the next connect

    def _give_up(self, measurement_id: str, waiter: _Waiter) -> None:
        waiters = self._waiters.get(measurement_id, [])
        if waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[measurement_id]
            state = 'connected' if self._link_ready else 'not connected'
            self._resolve(waiter, (False, f'no acknowledgement within {self._timeout_s:g} s '
                                          f'({state}); still subscribing', ''))

    def _answer_waiters(self, measurement_id: str, outcome: Outcome) -> None:
        for waiter in self._waiters.pop(measurement_id, ()):
            if waiter.timer is not None:
                waiter.timer.cancel()
            self._resolve(waiter, outcome)

    def _resolve(self, waiter: _Waiter, outcome: Outcome) -> None:
        executor = self.executor
        if executor is not None and not waiter.future.done():
            self.loop.complete(executor, waiter.future, outcome)

    # -- executor thread ------------------------------------------------------------------

    def _on_chunk(self, msg: DfxChunk) -> None:
        try:
            chunk = translate.to_add_data(msg)
        except LocalProtocolError as exc:
            self.count_bad_input(f'rejected a chunk: meta is {exc}')
            return
        problem = chunk.problem()
        if problem:
            self.count_bad_input(f'rejected a chunk: {problem}')
            return
        if not self.is_active:
            self.count_dropped('not active: dropped a chunk')
            return
        self.loop.call_soon(self._queue_chunk, chunk)

    async def _on_subscribe(self, request: DfxSubscribeResults.Request,
                            response: DfxSubscribeResults.Response
                            ) -> DfxSubscribeResults.Response:
        problem = dfx.measurement_id_problem(request.measurement_id)
        if problem or not self.is_active:
            response.success = False
            response.message = problem or 'not active'
            return response
        future: Future = Future(executor=self.executor)
        self.loop.call_soon(self._subscribe, request.measurement_id, future)
        response.success, response.message, response.request_id = await future
        return response


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges dfx_bridge``."""
    return run_bridge(DfxBridge, args)
