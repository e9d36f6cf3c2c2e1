"""
python-socketio 5's asyncio client, taught to also speak Engine.IO protocol 3.

Servers of socket.io 1.x and 2.x (the ones LetsRobot ran) speak Engine.IO 3; socket.io 3.x
and 4.x speak Engine.IO 4. No maintained Python library speaks protocol 3 from asyncio next
to python-socketio 5 (python-engineio 3.x did, but it cannot be installed beside 4.x, which
python-socketio 5 requires). The two protocols differ, for what LetsRobot uses (text events
over the websocket transport), in three points only, each adapted here by overriding one
method of the library's client classes:

* The handshake names the protocol: ``EIO=3`` instead of ``EIO=4`` in the URL.
* The heartbeat runs the other way: in protocol 3 the CLIENT sends ``2`` (ping) every
  ``pingInterval`` and the server answers ``3`` (pong). The library's read timeout
  (``pingInterval + pingTimeout`` without a packet) then detects a dead server as it does
  for protocol 4.
* The server joins the default namespace ``/`` by itself at connect (and says so with
  ``40``); the client must not send its own ``40`` for ``/``, or the server sees a second
  ``connection``.

``engineio_protocol`` ``'auto'`` first offers protocol 3: a protocol-4 server refuses it in
the handshake with HTTP 400 (socket.io 3+/4 without ``allowEIO3``, python-engineio's server),
(python-engineio's server answers the upgrade with 400; Node's engine.io 4+ accepts the
upgrade and writes its 400 answer into the websocket), and only then protocol 4 is used,
within the same connect. The other order cannot work: a
protocol-3 server does not check ``EIO=4`` and accepts a client that then speaks the wrong
heartbeat. A protocol-4 server with ``allowEIO3`` speaks protocol 3 correctly, so either
answer is right. Each connect detects anew (a server may be replaced by another version).

Protocol 3 is spoken over the websocket transport only, as the reference robot client did
(``transports='websocket'``); long-polling payloads are framed differently in protocol 3 and
are not adapted. Binary packets are not adapted either (LetsRobot sends JSON only).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import aiohttp
import engineio
from engineio import packet as eio_packet
import socketio
from socketio import packet as sio_packet

Protocol = Literal['auto', '3', '4']
PROTOCOLS: tuple[Protocol, ...] = ('auto', '3', '4')
# The second argument of the ConnectionError raised when a server refused protocol 3.
REFUSED = 'unsupported protocol version'


class EngineIOClient(engineio.AsyncClient):  # type: ignore[misc]
    """python-engineio's asyncio client speaking protocol 3 or 4 (see the module docstring)."""

    def __init__(self, *args: Any, protocol: Protocol = 'auto', **kwargs: Any) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f'engineio_protocol {protocol!r}: expected auto, 3 or 4')
        self.protocol_choice: Protocol = protocol
        self.protocol: int | None = None  # of the session being set up or held
        self.pings_sent = 0
        self.pongs_received = 0
        self._pinger: asyncio.Task[None] | None = None
        super().__init__(*args, **kwargs)

    async def connect(self, url: str, headers: dict[str, str] | None = None,
                      transports: Any = None, engineio_path: str = 'engine.io') -> Any:
        """Connect with the chosen protocol; ``auto`` falls back to 4 on a 400 refusal of 3."""
        if self.protocol_choice == '4':
            self.protocol = 4
            return await super().connect(url, headers, transports, engineio_path)
        try:
            self.protocol = 3
            return await super().connect(url, dict(headers or {}), ['websocket'],
                                         engineio_path)
        except engineio.exceptions.ConnectionError as exc:
            if self.protocol_choice == '3' or not _refused_protocol(exc):
                raise
        self.protocol = 4
        return await super().connect(url, headers, transports, engineio_path)

    def _get_engineio_url(self, url: str, engineio_path: str, transport: str) -> str:
        found = super()._get_engineio_url(url, engineio_path, transport)
        if self.protocol == 3:
            head, sep, tail = found.rpartition('&EIO=4')
            found = head + '&EIO=3' + tail if sep else found
        return found

    async def _connect_websocket(self, url: str, headers: dict[str, str],
                                 engineio_path: str) -> bool:
        try:
            connected = bool(await super()._connect_websocket(url, headers, engineio_path))
        except (TypeError, ValueError, KeyError) as exc:
            if self.protocol != 3 or self.sid:
                raise
            # engine.io 4+ (socket.io 3/4, Node) completes the upgrade, then writes its
            # 'HTTP/1.1 400 ... Unsupported protocol version' into the websocket: the first
            # frame is unreadable and the library fails decoding it as the OPEN packet.
            await self._reset()
            raise engineio.exceptions.ConnectionError(
                'the server refused Engine.IO protocol 3', REFUSED) from exc
        if connected and self.protocol == 3 and self.state == 'connected':
            self._stop_pinger()
            self._pinger = asyncio.ensure_future(self._ping_loop())
        return connected

    async def _receive_packet(self, pkt: eio_packet.Packet) -> None:
        if self.protocol == 3 and pkt.packet_type == eio_packet.PONG:
            self.pongs_received += 1  # any packet resets the library's read timeout
            return
        if self.protocol == 3 and pkt.packet_type == eio_packet.PING:
            return  # a protocol-3 server never pings; answering would be a protocol error
        await super()._receive_packet(pkt)

    async def _reset(self) -> None:
        self._stop_pinger()
        await super()._reset()

    async def _ping_loop(self) -> None:
        # As Engine.IO 3's own client: a ping every pingInterval from the connect on.
        while self.state == 'connected':
            await asyncio.sleep(self.ping_interval)
            if self.state != 'connected':
                break
            await self._send_packet(eio_packet.Packet(eio_packet.PING))
            self.pings_sent += 1

    def _stop_pinger(self) -> None:
        pinger, self._pinger = self._pinger, None
        if pinger is not None and pinger is not asyncio.current_task():
            pinger.cancel()


class AsyncClient(socketio.AsyncClient):  # type: ignore[misc]
    """python-socketio's asyncio client over :class:`EngineIOClient`."""

    def __init__(self, *args: Any, engineio_protocol: Protocol = 'auto',
                 **kwargs: Any) -> None:
        self._engineio_protocol = engineio_protocol
        super().__init__(*args, **kwargs)

    @property
    def engineio(self) -> EngineIOClient:
        """Return the Engine.IO client (its ``protocol`` is that of the current session)."""
        return self.eio  # type: ignore[no-any-return]

    def _engineio_client_class(self) -> Any:
        protocol = self._engineio_protocol

        def make(**options: Any) -> EngineIOClient:
            return EngineIOClient(protocol=protocol, **options)
        return make

    async def _handle_eio_connect(self) -> None:
        if self.engineio.protocol != 3:
            await super()._handle_eio_connect()
            return
        # The server joined '/' by itself and sends its own 40; other namespaces need ours.
        self.sid = self.eio.sid
        auth = await self._get_real_value(self.connection_auth) or {}
        for namespace in self.connection_namespaces:
            if namespace != '/':
                await self._send_packet(self.packet_class(
                    sio_packet.CONNECT, data=auth, namespace=namespace))


def _refused_protocol(exc: BaseException) -> bool:
    """Whether a failed connect was the server refusing the protocol-3 handshake."""
    if len(exc.args) > 1 and exc.args[1] == REFUSED:
        return True
    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, aiohttp.WSServerHandshakeError) and cause.status == 400
