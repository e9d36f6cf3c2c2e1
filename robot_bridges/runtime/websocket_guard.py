"""
Websocket connections that cannot hoard memory or look alive when dead (client and server).

websockets leaves three gaps that a hostile or broken peer opens wide:

* Its automatic pong replies, and :func:`~websockets.asyncio.server.broadcast`, write to the
  socket without backpressure: a peer that floods pings, or a client that stops reading a
  broadcast, grows the write buffer without bound. Here the buffer is checked after every
  write; past ``max_send_buffer_bytes`` the connection is aborted.
* Its keepalive ping waits for the write buffer to drain first, so a peer that stops
  reading while we send is never detected. Here the keepalive is a watchdog: one timer per
  connection that pings (without waiting behind the buffer) after ``ping_interval`` without
  received data and aborts after ``ping_interval + ping_timeout``, whatever is queued.
* When our side closes (over an oversize frame, say) and the peer never answers, the
  connection stays open until something awaits the close. Here it is aborted after
  ``close_timeout``, and its owner hears at once that it is no longer usable.

When a close starts, the owner hears of it after the frames that arrived before it: those
reach the reader first (see :meth:`_Guard.data_received`). An abort is told at once.

Pass ``create_connection=guarded_client(...)`` to ``connect()`` or
``create_connection=guarded_server(...)`` to ``serve()``, with the usual ``ping_interval``,
``ping_timeout`` and ``close_timeout``: the guard uses them instead of websockets' keepalive.
"""

from __future__ import annotations

import asyncio
from functools import partial
import os
from typing import Any, Callable

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection
from websockets.protocol import CLOSED, CLOSING, OPEN

DEFAULT_MAX_SEND_BUFFER_BYTES = 8 << 20

# Called once per connection when it stops being usable: with the reason when the guard
# aborted it, with None when a close handshake started (ours or the peer's).
EndCallback = Callable[[Connection, 'str | None'], None]


class _Guard:
    """The guard's half of a guarded connection; mixed in before websockets' class."""

    # Provided by websockets' Connection.
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    protocol: Any
    logger: Any
    ping_interval: float | None
    ping_timeout: float | None
    close_timeout: float | None

    def _init_guard(self, max_send_buffer_bytes: int, on_end: EndCallback | None) -> None:
        if max_send_buffer_bytes < 1:
            raise ValueError(f'max_send_buffer_bytes must be positive, '
                             f'got {max_send_buffer_bytes}')
        self.max_send_buffer_bytes = max_send_buffer_bytes
        self._on_end = on_end
        #: Whether the connection stopped being usable (closing or aborted).
        self.ended = False
        #: Why the guard aborted the connection; None unless it did.
        self.aborted: str | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        # While websockets handles received bytes: a close that starts then is told after.
        self._receiving = False
        self._close_held = False
        #: loop.time() of the last bytes received: any frame, pong or ping shows liveness.
        self.last_received = self.loop.time()

    # -- websockets hooks -----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.last_received = self.loop.time()
        # websockets writes its answer to these bytes (the echo of the peer's close, or our
        # close over an oversize frame) before it queues the data frames that came with
        # them. A close found meanwhile is told once they are queued: the reader, woken by
        # the first of them, is then scheduled before the owner hears the link is down, and
        # takes every queued frame in that one step (recv does not wait for a queued one).
        self._receiving = True
        try:
            super().data_received(data)  # type: ignore[misc]
        finally:
            self._receiving = False
            if self._close_held:
                self._close_held = False
                self._notify(None)

    def send_data(self) -> None:
        super().send_data()  # type: ignore[misc]
        if self.ended:
            return
        size = self.transport.get_write_buffer_size()
        if size > self.max_send_buffer_bytes:
            self.abort(f'{size} bytes wait in the write buffer, over max_send_buffer_bytes '
                       f'({self.max_send_buffer_bytes}): the peer does not read')
        elif self.protocol.state is CLOSING or self.protocol.state is CLOSED:
            self._end(None)
            if self.close_timeout is not None:
                # Nothing else enforces the close timeout when the peer started the close
                # or we failed the connection over its frame: a silent peer would keep it.
                self._close_timer = self.loop.call_later(self.close_timeout,
                                                         self.transport.abort)

    def start_keepalive(self) -> None:
        """Start the watchdog in place of websockets' keepalive (which waits for drain)."""
        if self.ping_interval is not None:
            self._watchdog = self.loop.create_task(self._watch(self.ping_interval,
                                                               self.ping_timeout))

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)  # type: ignore[misc]
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None

    # -- the guard ------------------------------------------------------------------------

    def abort(self, reason: str) -> None:
        """Drop the TCP connection at once (no close handshake); the owner hears ``reason``."""
        if not self.ended:
            self.aborted = reason
            self._end(reason)
        self.transport.abort()

    def _end(self, reason: str | None) -> None:
        self.ended = True
        if reason is None and self._receiving:
            self._close_held = True
        else:
            self._notify(reason)

    def _notify(self, reason: str | None) -> None:
        if self._on_end is not None:
            # Not from inside websockets' callbacks: the owner may touch the connection.
            self.loop.call_soon(self._on_end, self, reason)
        elif reason is not None:
            self.logger.warning('dropped %s: %s', _peer(self), reason)

    async def _watch(self, interval: float, timeout: float | None) -> None:
        loop = self.loop
        pinged = -interval
        while True:
            now = loop.time()
            idle = now - self.last_received
            if timeout is not None and idle >= interval + timeout:
                self.abort(f'nothing received for {idle:.1f} s (ping_interval_s {interval:g} '
                           f'+ ping_timeout_s {timeout:g}): the peer is gone or stalled')
                return
            if idle >= interval and now - pinged >= interval:
                self._ping()
                pinged = now
            deadlines = [self.last_received + interval, pinged + interval]
            if timeout is not None:
                deadlines.append(self.last_received + interval + timeout)
            await asyncio.sleep(max(min((d for d in deadlines if d > now),
                                        default=now + interval) - now, 0.001))

    def _ping(self) -> None:
        # protocol.send_ping + send_data writes the ping behind what is queued without
        # waiting for the buffer to drain (Connection.ping would wait).
        if self.protocol.state is OPEN:
            self.protocol.send_ping(os.urandom(4))
            self.send_data()


class GuardedClientConnection(_Guard, ClientConnection):
    """A ClientConnection with the guard; build it with :func:`guarded_client`."""

    def __init__(self, *args: Any, max_send_buffer_bytes: int = DEFAULT_MAX_SEND_BUFFER_BYTES,
                 on_end: EndCallback | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_guard(max_send_buffer_bytes, on_end)


class GuardedServerConnection(_Guard, ServerConnection):
    """A ServerConnection with the guard; build it with :func:`guarded_server`."""

    def __init__(self, *args: Any, max_send_buffer_bytes: int = DEFAULT_MAX_SEND_BUFFER_BYTES,
                 on_end: EndCallback | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_guard(max_send_buffer_bytes, on_end)


def guarded_client(max_send_buffer_bytes: int = DEFAULT_MAX_SEND_BUFFER_BYTES,
                   on_end: EndCallback | None = None) -> Any:
    """
    Return the ``create_connection`` argument of ``connect()`` for guarded connections.

    ``on_end(connection, reason)`` is called once, soon after the connection stopped being
    usable; without it, aborts are logged on the connection's logger.
    """
    return partial(GuardedClientConnection, max_send_buffer_bytes=max_send_buffer_bytes,
                   on_end=on_end)


def guarded_server(max_send_buffer_bytes: int = DEFAULT_MAX_SEND_BUFFER_BYTES,
                   on_end: EndCallback | None = None) -> Any:
    """
    Return the ``create_connection`` argument of ``serve()`` for guarded connections.

    A client past the bound is dropped with a warning on the server's logger (unless
    ``on_end`` is given: then it is told instead).
    """
    return partial(GuardedServerConnection, max_send_buffer_bytes=max_send_buffer_bytes,
                   on_end=on_end)


def _peer(connection: _Guard) -> str:
    try:
        host, port = connection.transport.get_extra_info('peername')[:2]
    except (TypeError, ValueError):
        return 'a peer'
    return f'the peer {host}:{port}'
