"""WebSocketClient against a real websockets server on 127.0.0.1, ephemeral ports."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from async_helpers import Changing, Recorder, run, stopped
import pytest
from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.link import Frame, Outbox
from robot_bridges.runtime.websocket_client import WebSocketClient, WebSocketClientConfig
from robot_bridges.sims.civetweb import Firmware, firmware_server
from websockets.asyncio.server import serve, Server, ServerConnection
from websockets.exceptions import ConnectionClosed

FAST = Backoff(min_s=0.05, max_s=0.2)


class EchoServer(Changing):
    """A websockets server that records the frames of each connection and can drop them."""

    def __init__(self) -> None:
        super().__init__()
        self.connections: list[list[Frame]] = []
        self.closes: list[int | None] = []
        self.live: set[ServerConnection] = set()
        self.server: Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> EchoServer:
        self.server = await serve(self._handle, '127.0.0.1', port, compression=None)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        return f'ws://127.0.0.1:{self.port}/'

    async def _handle(self, connection: ServerConnection) -> None:
        frames: list[Frame] = []
        self.connections.append(frames)
        self.live.add(connection)
        self._changed.set()
        try:
            async for frame in connection:
                frames.append(frame)
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.live.discard(connection)
            self.closes.append(connection.close_code)
            self._changed.set()


def client_for(url: str, recorder: Recorder, **kwargs: Any) -> WebSocketClient:
    max_bytes = kwargs.pop('max_message_bytes', 1 << 20)
    config = WebSocketClientConfig(url=url, backoff=FAST, max_message_bytes=max_bytes,
                                   open_timeout_s=2.0, close_timeout_s=0.5)
    return WebSocketClient(config, recorder, **kwargs)


def test_hello_frames_are_sent_again_after_a_reconnect() -> None:
    async def test() -> tuple[list[list[Frame]], Recorder]:
        server = await EchoServer().start()
        recorder = Recorder()
        client = client_for(server.url, recorder, hello=lambda: ['hello', b'binary hello'])
        task = asyncio.create_task(client.run())
        await server.until(lambda: len(server.connections) == 1 and
                           len(server.connections[0]) == 2)
        for connection in list(server.live):
            await connection.close(1012, 'restarting')
        await server.until(lambda: len(server.connections) == 2 and
                           len(server.connections[1]) == 2)
        await recorder.until(lambda: len(recorder.of('up')) == 2)
        await stopped(client, task)
        await server.stop()
        return server.connections, recorder

    connections, recorder = run(test())
    assert connections == [['hello', b'binary hello']] * 2
    assert recorder.of('down')[0] == 'closed with code 1012 (restarting)'


def test_outbox_order_is_kept_across_a_server_restart() -> None:
    async def test() -> tuple[list[list[Frame]], Recorder]:
        server = await EchoServer().start()
        port = server.port
        recorder = Recorder()
        client = client_for(server.url, recorder, hello=lambda: ['hello'])
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: client.connected)
        client.send('before 0')
        client.send('before 1')
        await server.until(lambda: len(server.connections[0]) == 3)
        await server.stop()
        await recorder.until(lambda: bool(recorder.of('down')))
        for i in range(5):
            client.send(f'queued {i}')
        await asyncio.sleep(0.3)  # a few refused reconnection attempts
        restarted = await EchoServer().start(port)
        await restarted.until(lambda: bool(restarted.connections) and
                              len(restarted.connections[0]) == 6, timeout=10.0)
        await stopped(client, task)
        await restarted.stop()
        return server.connections + restarted.connections, recorder

    connections, recorder = run(test())
    assert connections[0] == ['hello', 'before 0', 'before 1']
    assert connections[1] == ['hello'] + [f'queued {i}' for i in range(5)]
    assert sum(recorder.of('sent')) == 7
    assert recorder.of('error')  # the refused attempts were reported


def test_an_oversize_frame_is_reported_and_the_link_reconnects() -> None:
    async def test() -> tuple[Recorder, list[int | None]]:
        server = await EchoServer().start()
        recorder = Recorder()
        client = client_for(server.url, recorder, max_message_bytes=1024)
        task = asyncio.create_task(client.run())
        await server.until(lambda: len(server.live) == 1)
        await next(iter(server.live)).send('x' * 4096)
        await recorder.until(lambda: len(recorder.of('up')) == 2)
        # The new connection works.
        await next(iter(server.live)).send('small')
        await recorder.until(lambda: recorder.of('frame') == ['small'])
        await stopped(client, task)
        await server.stop()
        return recorder, server.closes

    recorder, closes = run(test())
    assert recorder.of('bad_frame') == [
        'received a frame over max_message_bytes: the link was closed and reopens']
    assert closes[0] == 1009
    assert [k for k, _ in recorder.events if k in ('up', 'down', 'bad_frame')] == [
        'up', 'bad_frame', 'down', 'up', 'down']


def test_connect_errors_are_reported_without_credentials() -> None:
    async def test() -> list[str]:
        probe = await EchoServer().start()
        port = probe.port
        await probe.stop()
        recorder = Recorder()
        client = client_for(f'ws://user:PASSWORD@127.0.0.1:{port}/path?token=TOKEN', recorder)
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: len(recorder.of('error')) >= 2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return recorder.of('error')

    errors = run(test())
    assert all(e.startswith('connect to ws://127.0.0.1:') and '/path failed: ' in e
               for e in errors)
    assert all('PASSWORD' not in e and 'TOKEN' not in e and 'user' not in e for e in errors)


def test_close_is_a_clean_close_handshake() -> None:
    async def test() -> tuple[Recorder, list[int | None]]:
        server = await EchoServer().start()
        recorder = Recorder()
        client = client_for(server.url, recorder)
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: client.connected)
        await stopped(client, task)
        await server.until(lambda: bool(server.closes))
        await server.stop()
        return recorder, server.closes

    recorder, closes = run(test())
    assert closes == [1000]
    assert [k for k, _ in recorder.events] == ['up', 'down']
    assert recorder.of('down') == ['closed with code 1000']


def test_close_while_disconnected_stops_reconnecting() -> None:
    async def test() -> tuple[Recorder, int]:
        probe = await EchoServer().start()
        port = probe.port
        await probe.stop()
        recorder = Recorder()
        client = client_for(f'ws://127.0.0.1:{port}/', recorder)
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: bool(recorder.of('error')))
        await stopped(client, task)  # must not wait for a server to come back
        server = await EchoServer().start(port)
        await asyncio.sleep(0.5)  # long enough for several reconnection attempts
        await server.stop()
        return recorder, len(server.connections)

    recorder, connections = run(test())
    assert connections == 0
    assert not recorder.of('up')


def test_run_again_after_close_keeps_reconnecting() -> None:
    """A lifecycle node deactivates (close) and activates (run) the same client."""
    async def test() -> tuple[Recorder, int]:
        server = await EchoServer().start()
        recorder = Recorder()
        client = client_for(server.url, recorder, hello=lambda: ['hello'])
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: client.connected)
        await stopped(client, task)
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: len(recorder.of('up')) == 2)
        for connection in list(server.live):
            await connection.close(1012)
        await recorder.until(lambda: len(recorder.of('up')) == 3)
        await stopped(client, task)
        await server.stop()
        return recorder, len(server.connections)

    recorder, connections = run(test())
    assert connections == 3


def test_overflow_during_a_send_drops_the_oldest_waiting_frame_not_the_one_in_flight() -> None:
    async def test() -> tuple[list[str], int]:
        outbox: Outbox[str] = Outbox(2)
        wire: list[str] = []
        release = asyncio.Event()

        async def slow_send(item: str) -> None:
            if item == '0':
                await release.wait()  # backpressure while frames keep coming
            wire.append(item)
        drain = asyncio.create_task(outbox.drain(slow_send, lambda count: None))
        outbox.put('0')
        await asyncio.sleep(0)
        for item in ('1', '2', '3'):
            outbox.put(item)
        release.set()
        while len(wire) < 3:
            await asyncio.sleep(0.01)
        drain.cancel()
        return wire, outbox.dropped

    wire, dropped = run(test())
    assert wire == ['0', '2', '3']
    assert dropped == 1


def test_a_service_that_accepts_then_drops_is_redialled_with_backoff() -> None:
    async def test() -> list[float]:
        opened: list[float] = []

        async def drop(connection: ServerConnection) -> None:
            opened.append(time.monotonic())
            await connection.close()
        async with serve(drop, '127.0.0.1', 0) as server:
            port = server.sockets[0].getsockname()[1]
            recorder = Recorder()
            client = WebSocketClient(WebSocketClientConfig(
                url=f'ws://127.0.0.1:{port}', backoff=Backoff(min_s=0.2, max_s=0.2)), recorder)
            task = asyncio.create_task(client.run())
            await asyncio.sleep(1.0)
            await stopped(client, task)
        return opened

    opened = run(test())
    gaps = [b - a for a, b in zip(opened, opened[1:])]
    assert 2 <= len(opened) <= 7, opened
    assert min(gaps) >= 0.19


def test_outbox_room_waits_until_an_item_is_sent() -> None:
    async def scenario() -> None:
        outbox: Outbox[str] = Outbox(2)
        outbox.put('a')
        outbox.put('b')
        assert outbox.full
        waiting = asyncio.ensure_future(outbox.room())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        sent: list[str] = []

        async def send(item: str) -> None:
            sent.append(item)
        drain = asyncio.ensure_future(outbox.drain(send, lambda count: None))
        await asyncio.wait_for(waiting, 5)
        assert sent and not outbox.full
        drain.cancel()
        await asyncio.gather(drain, return_exceptions=True)
    run(scenario())


class NoPongServer(Changing):
    """A server that never answers a ping (civetweb) and answers ``ka`` with ``ack``."""

    def __init__(self, answer: bool = True) -> None:
        super().__init__()
        self.answer = answer
        self.keepalives = 0
        self.opened = 0
        self.server: Server | None = None

    async def start(self) -> NoPongServer:
        self.server = await serve(self._handle, '127.0.0.1', 0, compression=None,
                                  ping_interval=None,
                                  create_connection=firmware_server(
                                      Firmware(workers=None), 1 << 20))
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f'ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/'

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, connection: ServerConnection) -> None:
        self.opened += 1
        self._changed.set()
        try:
            async for frame in connection:
                if frame == 'ka':
                    self.keepalives += 1
                    self._changed.set()
                    if self.answer:
                        await connection.send('ack')
        except ConnectionClosed:
            pass


def keepalive_client(url: str, recorder: Recorder, interval: float) -> WebSocketClient:
    config = WebSocketClientConfig(url=url, backoff=FAST, open_timeout_s=2.0,
                                   close_timeout_s=0.5, ping_interval_s=0.2,
                                   ping_timeout_s=0.2, keepalive_frame='ka',
                                   keepalive_interval_s=interval)
    return WebSocketClient(config, recorder)


def test_a_peer_that_answers_the_keepalive_but_no_ping_stays_up() -> None:
    async def test() -> tuple[Recorder, int, int]:
        server = await NoPongServer().start()
        recorder = Recorder()
        client = keepalive_client(server.url, recorder, 0.1)
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: len(recorder.of('up')) == 1)
        await asyncio.sleep(1.5)  # nearly 4 times ping_interval_s + ping_timeout_s
        await stopped(client, task)
        await server.stop()
        return recorder, server.keepalives, server.opened

    recorder, keepalives, opened = run(test())
    assert recorder.of('aborted') == [] and opened == 1
    assert 10 <= keepalives <= 16
    assert recorder.of('frame')[:3] == ['ack'] * 3  # the answers reach the listener too


@pytest.mark.parametrize('interval, answer', [(0.0, True), (0.1, False)])
def test_a_peer_that_answers_neither_is_dead_in_the_same_time_as_before(
        interval: float, answer: bool) -> None:
    async def test() -> tuple[Recorder, float]:
        server = await NoPongServer(answer=answer).start()
        recorder = Recorder()
        client = keepalive_client(server.url, recorder, interval)
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: len(recorder.of('up')) == 1)
        begin = time.monotonic()
        await recorder.until(lambda: len(recorder.of('aborted')) == 1)
        took = time.monotonic() - begin
        await stopped(client, task)
        await server.stop()
        return recorder, took

    recorder, took = run(test())
    assert 0.35 < took < 0.9  # ping_interval_s + ping_timeout_s = 0.4 s
    assert 'nothing received for' in recorder.of('aborted')[0]
