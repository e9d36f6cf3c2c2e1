"""
A websocket client that stays connected: reconnects with backoff, re-identifies, queues.

Used by every bridge that dials out to its service (Robot Chat, Victor, DFX). Reconnection
is websockets' own ``async for connection in connect(...)`` policy, with our
:class:`~robot_bridges.runtime.backoff.Backoff` as its ``reconnect_delays``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
import ssl
import time
from typing import Callable, Mapping, Sequence

from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.link import Frame, LinkListener, Outbox
from robot_bridges.runtime.redact import describe_exception, redact_url
from robot_bridges.runtime.websocket_close import report_end
from robot_bridges.runtime.websocket_guard import (DEFAULT_MAX_SEND_BUFFER_BYTES,
                                                   guarded_client)
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed
from websockets.uri import parse_uri

if tuple(int(part) for part in websockets.version.version.split('.')[:2]) < (14, 2):
    raise ImportError(f'robot_bridges needs websockets >= 14.2 (per-connection reconnect '
                      f'delays), found {websockets.version.version}: pip install -U websockets')

# A connection that lasted less than this counts as failed for the backoff.
STABLE_AFTER_S = 5.0


def check_url(url: str) -> None:
    """
    Raise ValueError, naming the URL without its secrets, unless it is a usable ws(s) URL.

    Call it where parameters are validated (configure), so a bad URL fails the transition
    instead of the link task.
    """
    try:
        parse_uri(url)
    except Exception as exc:  # noqa: B902 - InvalidURI or ValueError from the port
        reason = str(exc).rpartition(': ')[2] or type(exc).__name__
        raise ValueError(f'invalid websocket url {redact_url(url)!r}: {reason}') from None


@dataclass(frozen=True)
class WebSocketClientConfig:
    """
    Where and how to connect. ``headers`` may carry secrets: they are never logged.

    Liveness: after ``ping_interval_s`` without receiving anything the client pings; after
    ``ping_interval_s + ping_timeout_s`` the link is dead, whatever waits to be sent (None
    disables either). Anything received counts: data, a pong, or the answer to an
    application-level keepalive. ``keepalive_frame`` (with ``keepalive_interval_s`` > 0) is
    sent every ``keepalive_interval_s`` while connected, for peers that never answer a
    websocket ping but answer a frame of their protocol (Victor's webViz): the answer keeps
    the link alive, and the frame itself keeps a peer that closes silent clients from
    closing us. ``max_send_buffer_bytes`` bounds the bytes waiting in the socket's
    write buffer (our frames, pong replies): past it the link is aborted. Both abort the
    link and redial with backoff; it must exceed the largest frame sent.
    """

    url: str
    backoff: Backoff = field(default_factory=Backoff)
    max_message_bytes: int = 1 << 20
    headers: Mapping[str, str] = field(default_factory=dict)
    subprotocols: Sequence[str] = ()
    open_timeout_s: float = 5.0
    ping_interval_s: float | None = 20.0
    close_timeout_s: float = 1.0
    ssl_context: ssl.SSLContext | None = None
    ping_timeout_s: float | None = 20.0
    max_send_buffer_bytes: int = DEFAULT_MAX_SEND_BUFFER_BYTES
    keepalive_frame: Frame | None = None
    keepalive_interval_s: float = 0.0


class WebSocketClient:
    """
    One logical connection to a websocket service, for the lifetime of :meth:`run`.

    :meth:`run` connects, calls ``hello()`` and sends its frames first after every
    (re)connect, then sends queued frames in order while handing received frames to the
    listener. A frame whose handling raises is counted as bad (``link_bad_frame``) and the
    next one is handled. The link is down (``link_down``) the moment a close starts, ours or
    the peer's; a link the guard aborts (dead peer, write buffer over its bound) is reported
    through ``link_aborted`` too. Use it from the asyncio loop thread only.
    """

    def __init__(self, config: WebSocketClientConfig, listener: LinkListener, *,
                 outbox_size: int = 100,
                 hello: Callable[[], Sequence[Frame]] = tuple) -> None:
        self._config = config
        self._listener = listener
        self._hello = hello
        self.outbox: Outbox[Frame] = Outbox(outbox_size)
        # The connection being served, and the one the listener was told is up.
        self._connection: ClientConnection | None = None
        self._up: Connection | None = None
        self._closed = asyncio.Event()

    @property
    def connected(self) -> bool:
        """Whether a connection is open and usable right now."""
        return self._up is not None

    @property
    def display_url(self) -> str:
        """Return the URL with any credentials or query removed: safe for logs."""
        return redact_url(self._config.url)

    def send(self, frame: Frame) -> bool:
        """Queue a frame; returns False if the queue was full and the oldest was dropped."""
        return self.outbox.put(frame)

    async def run(self) -> None:
        """
        Stay connected until :meth:`close` or cancellation. Never raises on network errors.

        May be called again after it returned (lifecycle deactivate, then activate).
        """
        self._closed.clear()
        config = self._config
        connections = connect(
            config.url,
            additional_headers=dict(config.headers) or None,
            subprotocols=list(config.subprotocols) or None,  # type: ignore[arg-type]
            open_timeout=config.open_timeout_s,
            ping_interval=config.ping_interval_s,
            ping_timeout=config.ping_timeout_s,
            close_timeout=config.close_timeout_s,
            max_size=config.max_message_bytes,
            compression=None,
            ssl=config.ssl_context,
            reconnect_delays=config.backoff.delays,
            process_exception=self._retry_always,
            create_connection=guarded_client(config.max_send_buffer_bytes, self._ended),
        )
        serving = asyncio.ensure_future(self._serve_all(connections))
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait((serving, closed), return_when=asyncio.FIRST_COMPLETED)
            if not serving.done() and self._connection is None:
                # Connecting or waiting to retry: there is no close handshake to wait for.
                serving.cancel()
            await asyncio.wait((serving,))
        finally:
            closed.cancel()
            serving.cancel()
        if not serving.cancelled():
            serving.result()

    async def close(self) -> None:
        """Close the connection cleanly (close handshake) and stop reconnecting."""
        self._closed.set()
        connection = self._connection
        if connection is not None:
            await connection.close()

    async def _serve_all(self, connections: connect) -> None:
        # websockets restarts its backoff after every successful open, so a service that
        # accepts and then drops us at once (or keeps sending oversize frames) would be
        # redialled in a tight loop: a connection shorter than STABLE_AFTER_S, or one the
        # guard aborted, waits for the next of our own delays first.
        delays = self._config.backoff.delays()
        # aclosing: a connection opened when run() stops is closed at once, not at GC.
        async with contextlib.aclosing(aiter(connections)) as attempts:
            async for connection in attempts:
                opened = time.monotonic()
                await self._serve(connection)
                if self._closed.is_set():
                    return
                aborted = getattr(connection, 'aborted', None) is not None
                if not aborted and time.monotonic() - opened >= STABLE_AFTER_S:
                    delays = self._config.backoff.delays()
                else:
                    await asyncio.sleep(next(delays))

    async def _serve(self, connection: ClientConnection) -> None:
        listener = self._listener
        sender: asyncio.Task[None] | None = None
        keepalive: asyncio.Task[None] | None = None
        try:
            for frame in self._hello():
                await connection.send(frame)
            self._connection = self._up = connection
            listener.link_up()
            if getattr(connection, 'ended', False):
                # It closed before it was up: say so after the frames it had received, which
                # the loop below takes without waiting.
                asyncio.get_running_loop().call_soon(self._ended, connection,
                                                     getattr(connection, 'aborted', None))
            sender = asyncio.create_task(self.outbox.drain(connection.send, listener.link_sent))
            keepalive = self._start_keepalive(connection)
            async for frame in connection:
                try:
                    listener.link_frame(frame)
                except Exception as exc:  # noqa: B902 - no frame may end the link
                    listener.link_bad_frame(f'unusable frame: {describe_exception(exc)}')
        except ConnectionClosed:
            pass  # reported by _ended
        finally:
            tasks = [task for task in (sender, keepalive) if task is not None]
            for task in tasks:
                task.cancel()
            # Collect their outcome (ConnectionClosed if a send was cut off) so asyncio
            # never reports an exception nobody retrieved.
            await asyncio.gather(*tasks, return_exceptions=True)
            self._connection = None
            self._ended(connection, getattr(connection, 'aborted', None))

    def _start_keepalive(self, connection: ClientConnection) -> asyncio.Task[None] | None:
        frame, interval = self._config.keepalive_frame, self._config.keepalive_interval_s
        if frame is None or interval <= 0:
            return None

        async def keep_alive() -> None:
            # Beside the outbox, not in it: a full outbox must not delay or drop it, and it
            # is no frame of the owner's (link_sent does not count it).
            while True:
                await asyncio.sleep(interval)
                await connection.send(frame)
        return asyncio.create_task(keep_alive())

    def _ended(self, connection: Connection, aborted: str | None) -> None:
        # The guard calls this as soon as a close starts or it aborts; _serve when the
        # connection is gone. The listener hears of the first only.
        if self._up is not connection:
            return
        self._up = None
        report_end(self._listener, connection, aborted, 'the link was closed and reopens')

    def _retry_always(self, exc: Exception) -> Exception | None:
        # A bridge never gives up on its service: every failure is reported and retried.
        error = describe_exception(exc)
        self._listener.link_error(f'connect to {self.display_url} failed: {error}')
        return None
