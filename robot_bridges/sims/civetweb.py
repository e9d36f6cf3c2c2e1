"""
How the robot's civetweb 1.9.1 treats a websocket client, for victor_sim.

Facts from the firmware (GitHub digital-dream-labs/vector at commit
360cccbf7ab2db049b4b15c25cc3169e269ca741, ``webServerProcess/src/webService.cpp``, and
civetweb 1.9.1 under ``lib/util/source/3rd/civetweb``):

* a PING from the client goes to the data handler, which ignores it: **no PONG**;
* a close frame from the client gets no close frame back: the TCP connection is closed;
* ``websocket_timeout_ms`` 3600000: a client from which no byte arrived for an hour is closed
  (TCP close, no close frame), however much the robot sends it;
* ``num_threads`` 4: every open websocket holds a worker thread, so a fifth client's upgrade
  is not answered until one of the four ends (civetweb queues the socket meanwhile).

:func:`firmware_server` builds the ``create_connection`` argument of websockets' ``serve()``
that behaves like that; each behaviour can be turned back into websockets' standard one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import Any

from robot_bridges.runtime.websocket_guard import GuardedServerConnection
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

WORKER_THREADS = 4
CLIENT_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Firmware:
    """Which of civetweb's habits the server has (all of them by default)."""

    pong: bool = False
    close_reply: bool = False
    #: Close a client after this long without a byte from it; None: never.
    client_timeout_s: float | None = CLIENT_TIMEOUT_S
    #: Open websockets served at once; the next client waits for its upgrade. None: any.
    workers: int | None = WORKER_THREADS


class _FirmwareProtocol(ServerProtocol):
    """websockets' server protocol with civetweb's answers to PING and close frames."""

    answers_pings = False
    answers_close = False
    #: Set when a close frame arrived that is answered by closing the TCP connection.
    drop_requested = False

    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.PING and not self.answers_pings:
            return  # handed to the handler, which ignores it
        if frame.opcode is Opcode.CLOSE and not self.answers_close:
            # The connection drops the TCP connection as soon as this data is handled;
            # the protocol's state stays as it was (no close was sent or taken in).
            self.drop_requested = True
            return
        super().recv_frame(frame)


class Workers:
    """civetweb's worker threads: each open websocket holds one until it ends."""

    def __init__(self, count: int | None) -> None:
        """``count`` None serves any number at once."""
        self._free = asyncio.Semaphore(count) if count is not None else None
        #: Clients whose upgrade waits for a worker right now.
        self.waiting = 0

    async def process_request(self, connection: Any, request: Request) -> Response | None:
        """Wait for a free worker (pass as, or call from, ``serve``'s ``process_request``)."""
        if self._free is None:
            return None
        self.waiting += 1
        try:
            await self._free.acquire()
        finally:
            self.waiting -= 1
        if getattr(connection, 'transport_lost', False):
            self._free.release()  # it left while it waited
        else:
            connection.holds_worker = self
        return None

    def release(self) -> None:
        """Give a worker back (the connection that held it ended)."""
        if self._free is not None:
            self._free.release()


class FirmwareServerConnection(GuardedServerConnection):
    """A guarded server connection with the :class:`Firmware` habits."""

    def __init__(self, *args: Any, firmware: Firmware = Firmware(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        protocol = self.protocol
        # serve() builds the ServerProtocol itself and offers no hook for its class; the
        # subclass only adds attributes with class defaults and overrides recv_frame.
        protocol.__class__ = _FirmwareProtocol
        protocol.answers_pings = firmware.pong
        protocol.answers_close = firmware.close_reply
        self.holds_worker: Workers | None = None
        self.transport_lost = False
        #: Why the server dropped the client itself (silence, close frame); None if it did not.
        self.dropped_because: str | None = None
        self._client_timeout = firmware.client_timeout_s
        self._silence_timer: asyncio.TimerHandle | None = None
        if self._client_timeout is not None:
            self._silence_timer = self.loop.call_later(self._client_timeout, self._check_silence)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if getattr(self.protocol, 'drop_requested', False) and self.dropped_because is None:
            self._drop('close frame received (civetweb closes the TCP connection, no reply)')

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport_lost = True
        if self._silence_timer is not None:
            self._silence_timer.cancel()
            self._silence_timer = None
        workers, self.holds_worker = self.holds_worker, None
        if workers is not None:
            workers.release()
        super().connection_lost(exc)

    def _check_silence(self) -> None:
        timeout = self._client_timeout
        assert timeout is not None
        idle = self.loop.time() - self.last_received
        if idle >= timeout:
            self._drop(f'nothing received from the client for {idle:.1f} s '
                       f'(websocket_timeout_ms {timeout * 1000:.0f})')
        else:
            self._silence_timer = self.loop.call_later(timeout - idle, self._check_silence)

    def _drop(self, why: str) -> None:
        self.dropped_because = why
        self.logger.info('closing %s', why)
        self.transport.close()


def firmware_server(firmware: Firmware, max_send_buffer_bytes: int) -> Any:
    """Return the ``create_connection`` argument of ``serve()`` for :class:`Firmware` habits."""
    return partial(FirmwareServerConnection, firmware=firmware,
                   max_send_buffer_bytes=max_send_buffer_bytes)
