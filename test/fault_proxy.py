"""
A TCP fault proxy on loopback, switched at run time from the test's thread.

It listens on ``127.0.0.1:<ephemeral>`` and forwards every connection to ``upstream``, on its
own asyncio loop in a daemon thread. The faults, for the connections they name:

* :meth:`FaultProxy.blackhole`: new connections are accepted (TCP completes) but nothing is
  read or forwarded: a websocket upgrade never completes. :meth:`FaultProxy.pass_through`
  releases them: they are dialled upstream then, with what their client sent meanwhile.
* :meth:`FaultProxy.stall`: stop forwarding in one or both directions *and stop reading* the
  sending socket, so the sender's socket buffers fill; new connections stall likewise.
  :meth:`FaultProxy.resume` forwards again, what waited first.
* :meth:`FaultProxy.reset_mid_frame`: the next data in a direction is cut: part of it is
  forwarded, then both sockets are closed with ``SO_LINGER`` 0 (an RST, no FIN).
* :meth:`FaultProxy.cut`: close every open connection (both sides, an RST).
* :meth:`FaultProxy.reject`: reset every new connection at once.

Directions are named from the dialling side: ``'up'`` is client to upstream, ``'down'``
upstream to client.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import socket
import struct
import threading
from typing import Any, Callable, Coroutine, TypeVar

import explain

T = TypeVar('T')
DIRECTIONS = ('up', 'down')
# Bytes the proxy takes from a socket it no longer forwards before it stops reading.
READ_LIMIT = 16 * 1024
CHUNK = 16 * 1024


@dataclass(eq=False)
class _Connection:
    """One proxied connection: the client's side and, once dialled, the upstream side."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def writers(self) -> list[asyncio.StreamWriter]:
        return [w for w in (self.client, self.upstream) if w is not None]


class FaultProxy:
    """A loopback TCP proxy in front of ``upstream`` whose faults switch at run time."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.accepted = 0
        self.rejected = 0
        self.resets = 0
        self.forwarded = dict.fromkeys(DIRECTIONS, 0)
        self._connections: set[_Connection] = set()
        # Every client's handler (asyncio.start_server runs one task each): close() ends
        # them all, so none is left pending when the loop stops.
        self._handlers: set[asyncio.Task[Any]] = set()
        self._at_close = ''
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name='fault_proxy')
        self._thread.start()
        self._server: asyncio.base_events.Server = self._run(self._start())
        self.port = int(self._server.sockets[0].getsockname()[1])
        explain.track(self)

    def explain(self) -> str:
        """Return ports, mode and counters (read without the loop: it may be the stuck part)."""
        if self._at_close:
            return self._at_close + ' (then closed by the test)'
        if self._rejecting:
            mode = 'rejecting'
        elif not self._passing.is_set():
            mode = 'blackhole'
        else:
            stalled = [name for name, flowing in self._flowing.items() if not flowing.is_set()]
            mode = f'stalled {"+".join(stalled)}' if stalled else 'passing'
        upstreams = sum(c.upstream is not None for c in list(self._connections))
        return (f'--- fault proxy 127.0.0.1:{self.port} -> {self.upstream[0]}:{self.upstream[1]}: '
                f'mode {mode}, accepted {self.accepted}, rejected {self.rejected}, '
                f'resets {self.resets}, open {len(self._connections)} ({upstreams} dialled '
                f'upstream), forwarded up {self.forwarded["up"]} B / down '
                f'{self.forwarded["down"]} B, reset pending {sorted(self._reset_next) or "none"}, '
                f'loop thread {"alive" if self._thread.is_alive() else "ended"}')

    @property
    def address(self) -> tuple[str, int]:
        """Return where clients dial the proxy."""
        return ('127.0.0.1', self.port)

    @property
    def open_connections(self) -> int:
        """Return how many proxied connections are open."""
        return self._run_call(lambda: len(self._connections))

    # -- faults (any thread) -------------------------------------------------------------

    def pass_through(self) -> None:
        """Forward everything: release blackholed and stalled connections, accept new ones."""
        def act() -> None:
            self._rejecting = False
            self._passing.set()
            for flowing in self._flowing.values():
                flowing.set()
        self._run_call(act)

    def blackhole(self) -> None:
        """Accept new connections but neither read nor answer them (existing ones go on)."""
        def act() -> None:
            self._rejecting = False
            self._passing.clear()
        self._run_call(act)

    def reject(self) -> None:
        """Reset every new connection as soon as it is accepted."""
        def act() -> None:
            self._rejecting = True
        self._run_call(act)

    def stall(self, direction: str = 'both') -> None:
        """Stop forwarding (and reading) in ``direction`` ('up', 'down' or 'both')."""
        for name in _directions(direction):
            self._run_call(self._flowing[name].clear)

    def resume(self) -> None:
        """Forward in both directions again."""
        for name in DIRECTIONS:
            self._run_call(self._flowing[name].set)

    def reset_mid_frame(self, direction: str) -> None:
        """Cut the next data sent in ``direction`` part way, then reset the connection."""
        for name in _directions(direction):
            self._run_call(self._reset_next.add, name)

    def reset_pending(self) -> bool:
        """Whether a reset_mid_frame is still waiting for data to cut."""
        return self._run_call(lambda: bool(self._reset_next))

    def cut(self) -> int:
        """Reset every open connection; return how many there were."""
        def act() -> int:
            connections = list(self._connections)
            for connection in connections:
                self._reset(connection)
            return len(connections)
        return self._run_call(act)

    def close(self) -> None:
        """Reset every connection, stop listening and stop the thread."""
        # A failure is reported after the test closed its proxy: keep what it was then.
        self._at_close = self.explain()

        async def stop() -> None:
            self._server.close()
            for connection in list(self._connections):
                self._reset(connection)
            for handler in list(self._handlers):
                handler.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
        try:
            self._run(stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    # -- the loop ------------------------------------------------------------------------

    async def _start(self) -> asyncio.base_events.Server:
        self._passing = asyncio.Event()
        self._passing.set()
        self._flowing = {name: asyncio.Event() for name in DIRECTIONS}
        for flowing in self._flowing.values():
            flowing.set()
        self._rejecting = False
        self._reset_next: set[str] = set()
        return await asyncio.start_server(self._accept, '127.0.0.1', 0, limit=READ_LIMIT)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            await self._handle(reader, writer)
        except asyncio.CancelledError:
            # close() ends the handlers it finds; end normally: asyncio's stream callback
            # reads a handler's exception, and a cancelled one it would log as an error.
            pass
        finally:
            self._handlers.discard(handler)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._rejecting:
            self.rejected += 1
            _linger_zero(writer)
            writer.transport.abort()
            return
        self.accepted += 1
        connection = _Connection(writer)
        self._connections.add(connection)
        try:
            held = await self._hold(reader)
            if held is None:
                return  # the client gave up while blackholed
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    *self.upstream, limit=READ_LIMIT)
            except OSError:
                self._reset(connection)  # the service is down: so is this connection
                return
            connection.upstream = up_writer
            up_writer.write(held)
            pumps = [asyncio.create_task(self._pump(connection, reader, up_writer, 'up')),
                     asyncio.create_task(self._pump(connection, up_reader, writer, 'down'))]
            connection.tasks.extend(pumps)
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            # One side ended: end the other (a FIN follows the data already forwarded).
            for pump in pumps:
                await asyncio.wait((pump,), timeout=1.0)
        finally:
            self._connections.discard(connection)
            for side in connection.writers():
                side.transport.abort()
            for pump in connection.tasks:
                pump.cancel()
            await asyncio.gather(*connection.tasks, return_exceptions=True)

    async def _hold(self, reader: asyncio.StreamReader) -> bytes | None:
        # While blackholed: keep what the client sends, answer nothing; None once it left.
        held = bytearray()
        while not self._passing.is_set():
            reading = asyncio.ensure_future(reader.read(CHUNK))
            passing = asyncio.ensure_future(self._passing.wait())
            await asyncio.wait((reading, passing), return_when=asyncio.FIRST_COMPLETED)
            passing.cancel()
            if not reading.done():
                reading.cancel()  # a cancelled read consumes nothing
                break
            try:
                data = reading.result()
            except (ConnectionError, OSError):
                return None
            if not data:
                return None
            held += data
        return bytes(held)

    async def _pump(self, connection: _Connection, source: asyncio.StreamReader,
                    sink: asyncio.StreamWriter, direction: str) -> None:
        flowing = self._flowing[direction]
        try:
            while True:
                await flowing.wait()
                data = await source.read(CHUNK)
                if not data:
                    if sink.can_write_eof():
                        sink.write_eof()
                    return
                await flowing.wait()  # stalled while reading: hold what was read
                if direction in self._reset_next:
                    self._reset_next.discard(direction)
                    sink.write(data[:max(1, len(data) // 2)])
                    await sink.drain()
                    await asyncio.sleep(0.05)  # the part reaches the peer before the RST
                    self._reset(connection)
                    return
                self.forwarded[direction] += len(data)
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            self._reset(connection)

    def _reset(self, connection: _Connection) -> None:
        if connection in self._connections:
            self.resets += 1
            self._connections.discard(connection)
        for side in connection.writers():
            _linger_zero(side)
            side.transport.abort()

    # -- crossing from the test's thread -------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _run_call(self, function: Callable[..., T], *args: Any) -> T:
        async def call() -> T:
            return function(*args)
        return self._run(call())


def _directions(direction: str) -> tuple[str, ...]:
    if direction == 'both':
        return DIRECTIONS
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'up', 'down' or 'both', got {direction!r}")
    return (direction,)


def _linger_zero(writer: asyncio.StreamWriter) -> None:
    # close() of a socket with SO_LINGER (on, 0 s) sends an RST instead of a FIN.
    sock = writer.get_extra_info('socket')
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        except OSError:
            pass  # already closed
