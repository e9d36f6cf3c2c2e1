"""
A socket.io client that stays connected: re-identifies on every connect and queues emits.

Used by the LetsRobot bridge (control, chat and app-server sockets). It wraps
python-socketio 5.x's :class:`socketio.AsyncClient`:

* Reconnection after a lost transport is the library's own policy, configured from our
  :class:`~robot_bridges.runtime.backoff.Backoff` by :func:`reconnection_options`. Two cases
  the library leaves alone are handled by :meth:`SocketIOClient.run` with the same backoff:
  the first connection (``connect(retry=True)`` gives up for good when the server refuses
  the namespace, and ``shutdown()`` cannot abort it), and a session the server ended itself
  (a DISCONNECT or CLOSE packet, e.g. a clean server restart), after which the library
  does not reconnect.
* ``hello()`` gives the identification events (``robot_id``, ``identify_robot_id``), emitted
  first after every (re)connect, before queued emits.
* Incoming events go to ``on_event(event, data)`` on the loop thread; the connection state
  goes to a :class:`~robot_bridges.runtime.link.LinkListener` (``link_frame`` is not used).
  An event whose handling raises is counted (``link_bad_frame``) and the next is handled.
* Both Engine.IO protocols: 3 (socket.io 1.x/2.x servers, the ones LetsRobot ran) and 4
  (socket.io 3.x/4.x), through :mod:`robot_bridges.runtime.socketio_eio3`, a small
  adaptation of the library's client classes: ``engineio_protocol`` ``auto`` (detected
  in the handshake of every connect), ``3`` or ``4``. The protocol of the current session
  is :attr:`SocketIOClient.engineio_protocol`.
* Liveness is Engine.IO's own: in protocol 4 the server pings, in protocol 3 the client
  does; either way the library drops a session that heard nothing for
  ``pingInterval + pingTimeout`` (then reconnects as above).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence
from urllib.parse import urlsplit

import aiohttp
from robot_bridges.protocols.text import excerpt
from robot_bridges.runtime.backoff import Backoff, sleep_unless
from robot_bridges.runtime.http_json import retry_with_backoff, RetryStopped
from robot_bridges.runtime.link import LinkListener, Outbox
from robot_bridges.runtime.redact import describe_exception, redact, redact_url
from robot_bridges.runtime.socketio_eio3 import AsyncClient, Protocol, PROTOCOLS
from socketio.exceptions import SocketIOError

Emit = tuple[str, object]


@dataclass(frozen=True)
class SocketIOClientConfig:
    """
    Where and how to connect. ``headers`` and ``secrets`` are never logged.

    ``transports`` empty means the library's default (long-polling, then upgrade to
    websocket); ``('websocket',)`` skips polling. ``connect_timeout_s`` bounds each HTTP
    request of the handshake and the wait for the namespace to be accepted.
    ``engineio_protocol`` is ``auto``, ``3`` or ``4``; protocol 3 always uses the websocket
    transport.
    """

    url: str
    backoff: Backoff = field(default_factory=Backoff)
    transports: Sequence[str] = ()
    socketio_path: str = 'socket.io'
    headers: Mapping[str, str] = field(default_factory=dict)
    connect_timeout_s: float = 5.0
    secrets: Sequence[str] = ()
    engineio_protocol: Protocol = 'auto'

    def __post_init__(self) -> None:
        """Check the protocol choice (ValueError)."""
        if self.engineio_protocol not in PROTOCOLS:
            raise ValueError(f'engineio_protocol {self.engineio_protocol!r}: expected '
                             'auto, 3 or 4')


def reconnection_options(backoff: Backoff) -> dict[str, float]:
    """
    python-socketio's reconnection settings closest to ``backoff``.

    The library doubles the delay from ``reconnection_delay`` up to ``reconnection_delay_max``
    (its growth factor is fixed at 2) and adds a jitter of +- ``randomization_factor``
    SECONDS. Half the shortest delay keeps every delay positive and spreads clients apart.
    """
    return {
        'reconnection_delay': backoff.min_s,
        'reconnection_delay_max': backoff.max_s,
        'randomization_factor': backoff.min_s / 2.0,
    }


class SocketIOClient:
    """
    One logical socket.io connection, for the lifetime of :meth:`run`.

    Use it from the asyncio loop thread only. Emits are at most once: one handed to the
    library just before a drop may be lost; one queued while disconnected waits (the
    oldest are dropped past ``outbox_size``) and goes out after the next ``hello``.
    """

    def __init__(self, config: SocketIOClientConfig, listener: LinkListener, *,
                 on_event: Callable[[str, object], None],
                 outbox_size: int = 100,
                 hello: Callable[[], Sequence[Emit]] = tuple) -> None:
        self._config = config
        self._listener = listener
        self._on_event = on_event
        self._hello = hello
        self.outbox: Outbox[Emit] = Outbox(outbox_size)
        query = urlsplit(config.url).query if '?' in config.url else ''
        self._secrets = tuple(s for s in (*config.secrets, query) if s)
        self._sio: AsyncClient | None = None
        self._protocol: int | None = None
        self._sender: asyncio.Task[None] | None = None
        self._up = False
        self._closed = asyncio.Event()
        self._stopped = asyncio.Event()
        self._connect_error_reported = False

    @property
    def connected(self) -> bool:
        """Whether the namespace is connected and identified right now."""
        return self._up

    @property
    def engineio_protocol(self) -> int | None:
        """Return the Engine.IO protocol (3 or 4) of the last session that connected, or None."""
        return self._protocol

    @property
    def listener(self) -> LinkListener:
        """Return the listener this client reports to."""
        return self._listener

    @property
    def local_address(self) -> str | None:
        """
        Return this end's IP address of the current connection; None while disconnected.

        The address of the interface that reaches the server (the kernel chose it), as the
        server sees it unless a NAT lies between.
        """
        sio = self._sio
        ws = getattr(sio.eio, 'ws', None) if sio is not None and self._up else None
        sockname = ws.get_extra_info('sockname') if ws is not None else None
        if isinstance(sockname, tuple) and sockname and isinstance(sockname[0], str):
            return sockname[0]
        return None

    @property
    def display_url(self) -> str:
        """Return the URL with any credentials or query removed: safe for logs."""
        return redact_url(self._config.url)

    def emit(self, event: str, data: object = None) -> bool:
        """
        Queue an event; returns False if the queue was full and the oldest was dropped.

        A tuple ``data`` is sent as several arguments, anything else as one (the library's
        convention); ``None`` sends none.
        """
        return self.outbox.put((event, data))

    async def emit_now(self, event: str, data: object = None) -> bool:
        """
        Send an event at once if connected, bypassing the queue; return whether it was sent.

        For a last word before :meth:`close` (a final status), which a queued emit could
        miss. Never raises on network errors.
        """
        sio = self._sio
        if sio is None or not self._up:
            return False
        try:
            await sio.emit(event, data)
        except SocketIOError:
            return False
        return True

    async def run(self) -> None:
        """
        Stay connected until :meth:`close` or cancellation. Never raises on network errors.

        May be called again after it returned.
        """
        self._closed.clear()
        self._stopped.clear()
        config = self._config
        sio = AsyncClient(
            engineio_protocol=config.engineio_protocol, reconnection=True,
            reconnection_attempts=0, **reconnection_options(config.backoff),
            logger=False, engineio_logger=False, handle_sigint=False,
            request_timeout=config.connect_timeout_s, http_session=self._http_session)
        sio.on('connect', self._connected)
        sio.on('disconnect', self._disconnected)
        sio.on('connect_error', self._connect_error)
        sio.on('*', self._any_event)
        self._sio = sio
        ended: asyncio.Future[None] | None = None
        try:
            while True:
                await retry_with_backoff(lambda: self._connect_once(sio), config.backoff,
                                         self._first_connect_failed, stop=self._closed)
                # sio.wait() returns once the library will not reconnect by itself: the server
                # ended the session (a DISCONNECT or CLOSE packet, e.g. a clean restart).
                ended = asyncio.ensure_future(sio.wait())
                await _first_of(ended, self._closed)
                if self._closed.is_set():
                    break
                await sleep_unless(self._closed, config.backoff.min_s)
        except RetryStopped:
            pass
        finally:
            try:
                await self._shut_down(sio)
            finally:
                if ended is not None and not ended.done():
                    ended.cancel()  # only once disconnected: it awaits the library's tasks
                self._sio = None
                self._stopped.set()

    async def close(self) -> None:
        """Disconnect cleanly and stop reconnecting; returns once :meth:`run` has finished."""
        self._closed.set()
        if self._sio is not None:
            await self._stopped.wait()

    async def _connect_once(self, sio: AsyncClient) -> None:
        config = self._config
        self._connect_error_reported = False
        await sio.connect(config.url, headers=dict(config.headers),
                          transports=list(config.transports) or None,
                          socketio_path=config.socketio_path,
                          wait_timeout=config.connect_timeout_s)

    def _http_session(self) -> aiohttp.ClientSession:
        # The library's own session allows a request 5 minutes, and the websocket upgrade
        # (and its reconnects) run without a timeout of their own: a server that accepts TCP
        # and never answers would hold the connection that long. Long-polling requests carry
        # their own timeouts; after an upgrade, aiohttp lifts the read timeout. The library
        # closes the session when it disconnects and makes a new one when it reconnects.
        timeout = self._config.connect_timeout_s
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=timeout, sock_read=timeout))

    async def _shut_down(self, sio: AsyncClient) -> None:
        # shutdown() disconnects (the server hears a DISCONNECT packet) or aborts the
        # library's reconnect task; eio.disconnect() then closes its HTTP session.
        try:
            await sio.shutdown()
        finally:
            await sio.eio.disconnect(abort=True)
        self._stop_sender()

    # -- python-socketio handlers (loop thread) -------------------------------------------

    async def _connected(self) -> None:
        sio = self._sio
        if sio is None or self._closed.is_set():
            return  # a reconnect that raced close(): run() disconnects it
        try:
            for event, data in self._hello():
                await sio.emit(event, data)
        except SocketIOError as exc:
            self._report(f'identification failed: {describe_exception(exc)}')
            return
        self._protocol = sio.engineio.protocol
        self._up = True
        self._listener.link_up()
        self._stop_sender()
        self._sender = asyncio.create_task(self._drain(sio))

    def _disconnected(self, reason: str = '') -> None:
        self._stop_sender()
        if self._up:
            self._up = False
            self._listener.link_down(self._redact(f'disconnected ({reason})' if reason
                                                  else 'disconnected'))

    def _connect_error(self, data: object = None) -> None:
        self._connect_error_reported = True
        self._report(f'connect to {self.display_url} failed: {data}')

    def _any_event(self, event: str, *args: object) -> None:
        data: object = args[0] if len(args) == 1 else (tuple(args) if args else None)
        try:
            self._on_event(event, data)
        except Exception as exc:  # noqa: B902 - the library would swallow it silently
            self._listener.link_bad_frame(
                f'unusable event {excerpt(event)}: {describe_exception(exc)}')

    # -- helpers ------------------------------------------------------------------------

    def _first_connect_failed(self, what: str) -> None:
        if not self._connect_error_reported:
            self._report(f'connect to {self.display_url} failed: {what}')

    async def _drain(self, sio: AsyncClient) -> None:
        async def send(item: Emit) -> None:
            await sio.emit(item[0], item[1])

        try:
            await self.outbox.drain(send, self._listener.link_sent)
        except SocketIOError:
            pass  # disconnected meanwhile: the disconnect handler reports it; item stays queued

    def _stop_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.cancel()

    def _report(self, what: str) -> None:
        self._listener.link_error(self._redact(what))

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


async def _first_of(future: asyncio.Future[None], event: asyncio.Event) -> None:
    """Wait until ``future`` is done or ``event`` is set; cancels neither ``future``."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((future, waiter), return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
