"""Hostile websocket peers on 127.0.0.1 for the transport tests: they flood, stall, go silent."""

from __future__ import annotations

import asyncio
import os
import struct
import threading
from typing import Any, Coroutine, TypeVar

from websockets.asyncio.server import serve, Server, ServerConnection
from websockets.utils import accept_key

PING = 0x9
T = TypeVar('T')


def ping_frame(payload: bytes) -> bytes:
    """Return an unmasked ping frame, as a server sends it (payload at most 125 bytes)."""
    return struct.pack('!BB', 0x80 | PING, len(payload)) + payload


class PingFlooder:
    """
    A websocket server that completes the handshake, then sends pings nonstop, never reading.

    Every ping asks the client for a pong; a client that queues its pongs without bound grows
    by the flood. ``connections`` counts the handshakes it completed.
    """

    def __init__(self) -> None:
        self.connections = 0
        self.sent_bytes = 0
        self.server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> PingFlooder:
        self.server = await asyncio.start_server(self._handle, '127.0.0.1', 0)
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f'ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/'

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self._writers:
            writer.transport.abort()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            key = await handshake(reader, writer)
            if key is None:
                return
            self.connections += 1
            burst = b''.join(ping_frame(os.urandom(125)) for _ in range(512))
            # Reads nothing from here on: the client's pongs pile up on its side.
            while True:
                writer.write(burst)
                self.sent_bytes += len(burst)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()


async def handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    then: bytes = b'') -> str | None:
    """
    Answer a websocket opening handshake; return the client's key (None if there was none).

    ``then`` (frames) goes out in the same write as the response.
    """
    request = await reader.readuntil(b'\r\n\r\n')
    key = None
    for line in request.decode('latin-1').split('\r\n'):
        name, _, value = line.partition(':')
        if name.strip().lower() == 'sec-websocket-key':
            key = value.strip()
    if key is None:
        return None
    writer.write(b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
                 b'Connection: Upgrade\r\n'
                 b'Sec-WebSocket-Accept: ' + accept_key(key).encode() + b'\r\n\r\n' + then)
    await writer.drain()
    return key


async def stalled_server(**options: Any) -> tuple[Server, list[ServerConnection], str]:
    """Serve connections that never read after the handshake (and never ping)."""
    stalled: list[ServerConnection] = []

    async def stall(connection: ServerConnection) -> None:
        stalled.append(connection)
        connection.transport.pause_reading()
        await connection.wait_closed()
    server = await serve(stall, '127.0.0.1', 0, ping_interval=None, close_timeout=0.2,
                         compression=None, **options)
    return server, stalled, f'ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/'


class BackgroundLoop:
    """An asyncio loop on its own thread, for peers that must run beside blocking test code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        """Run ``coro`` on the loop; return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
