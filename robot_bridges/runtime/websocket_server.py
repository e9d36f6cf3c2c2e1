"""
A websocket server that serves one peer at a time: the bridge is the server, the peer dials.

Used where the robot side connects to us (Reachy: the Unity simulator is the client of a
lockstep sync loop; the node sends a frame, the peer answers one). The server listens for
the lifetime of :meth:`WebSocketServer.run`; a peer that goes away is simply waited for again.

* One peer at a time: a second concurrent client completes the opening handshake and is
  closed at once with code 1013 (try again later); the listener hears of it through
  ``link_error``. With ``takeover=True`` the newest client wins instead: the current peer is
  closed with :data:`REPLACED_CODE` and a reason naming the newcomer, and once it is gone
  the newcomer is served (a peer that never reconnects, such as the Reachy Unity client, can
  then always be restarted). A frame the server rejects (over ``max_message_bytes``, text
  that is not UTF-8) closes that peer's connection and is reported through
  ``link_bad_frame``; a frame whose handling raises is counted the same way, and the next
  one is handled.
* A peer that stops reading (write buffer over ``max_send_buffer_bytes``) or goes silent
  (nothing received for ``ping_interval_s + ping_timeout_s``) is aborted and reported
  through ``link_aborted``; the link is down the moment a close starts.
* The request path is ignored, as the reference server ignored it.
* Frames queued with :meth:`WebSocketServer.send` wait in an
  :class:`~robot_bridges.runtime.link.Outbox` while no peer is connected and go to the next
  peer in order, after its ``hello`` frames. For a lockstep loop where only the latest
  command matters, use ``outbox_size=1``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import logging
from typing import Callable, Sequence

from robot_bridges.runtime.link import Frame, LinkListener, Outbox
from robot_bridges.runtime.redact import describe_exception
from robot_bridges.runtime.websocket_close import report_end
from robot_bridges.runtime.websocket_guard import (DEFAULT_MAX_SEND_BUFFER_BYTES,
                                                   guarded_server)
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import serve, Server, ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

_LOGGER = logging.getLogger('robot_bridges.websocket_server')
# Close code of a peer replaced by a newer one (application range 4000-4999): a client that
# reconnects by itself should not, or two of them replace each other forever.
REPLACED_CODE = 4001


@dataclass(frozen=True)
class WebSocketServerConfig:
    """Where to listen. Bind ``0.0.0.0`` only when asked to: the default is loopback."""

    port: int
    host: str = '127.0.0.1'
    max_message_bytes: int = 1 << 20
    ping_interval_s: float | None = 20.0
    close_timeout_s: float = 1.0
    ping_timeout_s: float | None = 20.0
    max_send_buffer_bytes: int = DEFAULT_MAX_SEND_BUFFER_BYTES

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f'port must be in 0..65535, got {self.port}')
        if self.max_message_bytes < 1:
            raise ValueError(f'max_message_bytes must be positive, got {self.max_message_bytes}')
        if self.max_send_buffer_bytes < 1:
            raise ValueError('max_send_buffer_bytes must be positive, '
                             f'got {self.max_send_buffer_bytes}')


class WebSocketServer:
    """
    Listen for :meth:`run`'s lifetime and exchange frames with one peer at a time.

    The listener hears ``link_up`` when a peer connects (after its ``hello`` frames were
    sent), ``link_frame`` for every frame it sends, and ``link_down`` when it goes, cleanly or
    not. Use it from the asyncio loop thread only.
    """

    def __init__(self, config: WebSocketServerConfig, listener: LinkListener, *,
                 outbox_size: int = 100,
                 hello: Callable[[], Sequence[Frame]] = tuple,
                 takeover: bool = False) -> None:
        self._config = config
        self._takeover = takeover
        self._listener = listener
        self._hello = hello
        self.outbox: Outbox[Frame] = Outbox(outbox_size)
        self._server: Server | None = None
        # The peer being served, and the one the listener was told is up.
        self._peer: ServerConnection | None = None
        self._peer_gone = asyncio.Event()
        self._up: Connection | None = None
        self._listening = asyncio.Event()
        self._closed = asyncio.Event()
        #: Peers refused because another was connected (close code 1013).
        self.refused = 0
        #: Peers closed because a newer one connected (``takeover``, close code 4001).
        self.replaced = 0

    @property
    def connected(self) -> bool:
        """Whether a peer is connected and its link usable right now."""
        return self._up is not None

    @property
    def peer_address(self) -> str:
        """Return the connected peer's ``host:port``, or '' when none is connected."""
        peer = self._peer
        return _address(peer) if peer is not None else ''

    @property
    def port(self) -> int:
        """
        Return the TCP port actually bound (useful with port 0).

        Raises ``RuntimeError`` when the server is not listening: await :meth:`wait_listening`.
        """
        server = self._server
        if server is None or not server.sockets:
            raise RuntimeError('the websocket server is not listening')
        return int(server.sockets[0].getsockname()[1])

    @property
    def display_url(self) -> str:
        """Where peers should connect: safe for logs (the server holds no secret)."""
        host = self._config.host
        host = f'[{host}]' if ':' in host else host
        # Closing (a peer's link_down logs this during shutdown): the port asked for.
        server = self._server
        port = self.port if server is not None and server.sockets else self._config.port
        return f'ws://{host}:{port}'

    def send(self, frame: Frame) -> bool:
        """Queue a frame for the peer; returns False if the oldest queued frame was dropped."""
        return self.outbox.put(frame)

    async def wait_listening(self) -> int:
        """
        Wait until :meth:`run` listens and return the bound port.

        Raises ``RuntimeError`` if the server was closed before it listened.
        """
        listening = asyncio.create_task(self._listening.wait())
        closed = asyncio.create_task(self._closed.wait())
        try:
            await asyncio.wait((listening, closed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            listening.cancel()
            closed.cancel()
        if not self._listening.is_set():
            raise RuntimeError('the websocket server was closed before it listened')
        return self.port

    async def run(self) -> None:
        """
        Listen until :meth:`close` or cancellation; serve peers one at a time.

        May be called again after it returned (lifecycle deactivate, then activate).
        Raises ``OSError`` if the address cannot be bound (port in use, bad host): that is a
        configuration error, not something to retry.
        """
        self._closed.clear()
        config = self._config
        try:
            async with serve(
                self._handle,
                config.host,
                config.port,
                max_size=config.max_message_bytes,
                ping_interval=config.ping_interval_s,
                ping_timeout=config.ping_timeout_s,
                close_timeout=config.close_timeout_s,
                compression=None,
                logger=_LOGGER,
                create_connection=guarded_server(config.max_send_buffer_bytes, self._ended),
            ) as server:
                self._server = server
                self._listening.set()
                await self._closed.wait()
                # Leaving the block closes the peer (close code 1001) and stops listening.
        finally:
            self._server = None
            self._listening.clear()
            self._closed.set()

    async def close(self) -> None:
        """Close the peer with a close handshake, stop listening, and wait until done."""
        self._closed.set()
        server = self._server
        if server is not None:
            server.close()
            await server.wait_closed()

    async def drop_peer(self, code: int, reason: str) -> None:
        """
        Close the current peer's connection with ``code`` and ``reason`` (if one is connected).

        The listener hears ``link_down`` as for any close; the next peer is served as usual.
        """
        peer = self._peer
        if peer is not None:
            await peer.close(code, reason)

    async def _handle(self, connection: ServerConnection) -> None:
        listener = self._listener
        while self._peer is not None and self._takeover and not self._closed.is_set():
            old, gone = self._peer, self._peer_gone
            self.replaced += 1
            listener.link_error(f'{_address(connection)} replaces {_address(old)}: one peer '
                                'at a time, the newest wins')
            await old.close(REPLACED_CODE, f'replaced by a newer client from '
                            f'{_address(connection)}')
            await gone.wait()
        if self._peer is not None or self._closed.is_set():
            self.refused += 1
            listener.link_error(f'refused a second peer from {_address(connection)}: '
                                'one peer at a time')
            await connection.close(CloseCode.TRY_AGAIN_LATER, 'one peer at a time')
            return
        self._peer = connection
        self._peer_gone = gone = asyncio.Event()
        sender: asyncio.Task[None] | None = None
        try:
            for frame in self._hello():
                await connection.send(frame)
            self._up = connection
            listener.link_up()
            if getattr(connection, 'ended', False):
                # It closed before it was up: say so after the frames it had received, which
                # the loop below takes without waiting.
                asyncio.get_running_loop().call_soon(self._ended, connection,
                                                     getattr(connection, 'aborted', None))
            sender = asyncio.create_task(self._drain(connection))
            while True:
                frame = await connection.recv()
                try:
                    listener.link_frame(frame)
                except Exception as exc:  # noqa: B902 - no frame may end the link
                    listener.link_bad_frame(f'unusable frame: {describe_exception(exc)}')
        except ConnectionClosed:
            pass  # reported by _ended
        finally:
            if sender is not None:
                sender.cancel()
            self._peer = None
            self._ended(connection, getattr(connection, 'aborted', None))
            gone.set()

    def _ended(self, connection: Connection, aborted: str | None) -> None:
        # The guard calls this as soon as a close starts or it aborts; _handle when the
        # peer is gone. The listener hears of the first only.
        if self._up is not connection:
            return
        self._up = None
        report_end(self._listener, connection, aborted,
                   'the peer was disconnected and may connect again')

    async def _drain(self, connection: ServerConnection) -> None:
        try:
            await self.outbox.drain(connection.send, self._listener.link_sent)
        except ConnectionClosed:
            pass  # the receiving side reports it; the interrupted frame stays queued


def _address(connection: ServerConnection) -> str:
    try:
        host, port = connection.remote_address[:2]
    except (TypeError, ValueError) as exc:
        return f'an unknown address ({describe_exception(exc)})'
    return f'{host}:{port}'
