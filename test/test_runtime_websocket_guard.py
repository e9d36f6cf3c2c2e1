"""The transport against hostile peers on 127.0.0.1: poison frames, floods, stalls, silence."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from async_helpers import Recorder, run, stopped
from hostile_peers import handshake, PingFlooder, stalled_server
import pytest
from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.link import Frame
from robot_bridges.runtime.websocket_client import WebSocketClient, WebSocketClientConfig
from robot_bridges.runtime.websocket_server import WebSocketServer, WebSocketServerConfig
from websockets.asyncio.client import connect
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import serve, ServerConnection
from websockets.frames import Close, CloseCode, Frame as WireFrame, Opcode

FAST = Backoff(min_s=0.05, max_s=0.2)
POISON = {
    'nested': RecursionError('maximum recursion depth exceeded'),
    'surrogate': UnicodeEncodeError('utf-8', '\ud800', 0, 1, 'surrogates not allowed'),
}


class PoisonedListener(Recorder):
    """A listener whose handling of some frames raises, as a bridge's decoder once did."""

    def link_frame(self, frame: Frame) -> None:
        if frame in POISON:
            raise POISON[frame]
        super().link_frame(frame)


def client_for(url: str, recorder: Recorder, **options: Any) -> WebSocketClient:
    config = WebSocketClientConfig(url=url, backoff=FAST, open_timeout_s=2.0,
                                   **{'close_timeout_s': 0.5, **options})
    return WebSocketClient(config, recorder)


def test_client_a_frame_whose_handling_raises_is_counted_and_the_next_is_handled() -> None:
    async def test() -> Recorder:
        async def poison(connection: ServerConnection) -> None:
            for frame in ('nested', 'surrogate', 'ok'):
                await connection.send(frame)
            await connection.wait_closed()
        async with serve(poison, '127.0.0.1', 0) as server:
            port = server.sockets[0].getsockname()[1]
            recorder = PoisonedListener()
            client = client_for(f'ws://127.0.0.1:{port}/', recorder)
            task = asyncio.create_task(client.run())
            await recorder.until(lambda: recorder.of('frame') == ['ok'])
            assert client.connected
            await stopped(client, task)
        return recorder

    recorder = run(test())
    assert recorder.of('bad_frame') == [
        'unusable frame: RecursionError: maximum recursion depth exceeded',
        "unusable frame: UnicodeEncodeError: 'utf-8' codec can't encode character '\\ud800' "
        'in position 0: surrogates not allowed']
    assert [k for k, _ in recorder.events if k in ('up', 'down')] == ['up', 'down']


def test_server_a_frame_whose_handling_raises_is_counted_and_the_next_is_handled() -> None:
    async def test() -> Recorder:
        recorder = PoisonedListener()
        server = WebSocketServer(WebSocketServerConfig(port=0), recorder)
        task = asyncio.create_task(server.run())
        port = await server.wait_listening()
        async with connect(f'ws://127.0.0.1:{port}/') as peer:
            for frame in ('nested', 'surrogate', 'ok'):
                await peer.send(frame)
            await recorder.until(lambda: recorder.of('frame') == ['ok'])
            assert server.connected
        await stopped(server, task)
        return recorder

    recorder = run(test())
    assert [what.partition(':')[0] for what in recorder.of('bad_frame')] == ['unusable frame'] * 2
    assert not recorder.of('aborted')


def test_a_ping_flood_aborts_the_link_which_is_redialled() -> None:
    async def test() -> tuple[Recorder, int, int]:
        flooder = await PingFlooder().start()
        recorder = Recorder()
        client = client_for(flooder.url, recorder, max_send_buffer_bytes=1 << 20)
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: len(recorder.of('aborted')) >= 2, timeout=30.0)
        assert not client.connected
        await stopped(client, task)
        await flooder.stop()
        return recorder, flooder.connections, flooder.sent_bytes

    recorder, connections, flooded = run(test(), timeout=60.0)
    assert connections >= 2  # redialled after the abort
    assert all('over max_send_buffer_bytes (1048576): the peer does not read' in reason
               for reason in recorder.of('aborted'))
    kinds = [k for k, _ in recorder.events if k in ('up', 'down', 'aborted')]
    assert kinds[:6] == ['up', 'aborted', 'down'] * 2
    assert recorder.of('down')[0].startswith('aborted: ')
    assert flooded > 1 << 20  # the flood did outgrow the bound


def test_a_peer_that_stops_reading_while_we_send_is_found_dead() -> None:
    async def test() -> tuple[Recorder, WebSocketClient, float, int]:
        server, stalled, url = await stalled_server()
        recorder = Recorder()
        client = client_for(url, recorder, ping_interval_s=0.5, ping_timeout_s=0.5)
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: client.connected)
        up = time.monotonic()
        for _ in range(400):
            client.send('x' * 100_000)
        await recorder.until(lambda: bool(recorder.of('aborted')), timeout=20.0)
        found_after = time.monotonic() - up
        assert not client.connected
        queued = len(client.outbox)
        await recorder.until(lambda: len(stalled) >= 2, timeout=10.0)  # redialled
        await stopped(client, task)
        server.close()
        await server.wait_closed()
        return recorder, client, found_after, queued

    recorder, client, found_after, queued = run(test(), timeout=60.0)
    reason = recorder.of('aborted')[0]
    assert 'nothing received for ' in reason
    assert '(ping_interval_s 0.5 + ping_timeout_s 0.5): the peer is gone or stalled' in reason
    assert found_after >= 1.0  # not before the interval and timeout had passed
    assert queued > 0  # found dead while frames still waited: not by a drained buffer


def test_connected_turns_false_when_our_close_starts_not_when_it_ends() -> None:
    async def test() -> tuple[Recorder, float, float]:
        async def oversize_then_stall(connection: ServerConnection) -> None:
            await connection.send('x' * 4096)
            connection.transport.pause_reading()  # our close frame is never answered
            await connection.wait_closed()
        async with serve(oversize_then_stall, '127.0.0.1', 0, ping_interval=None,
                         close_timeout=0.2) as server:
            port = server.sockets[0].getsockname()[1]
            recorder = Recorder()
            client = client_for(f'ws://127.0.0.1:{port}/', recorder, max_message_bytes=1024,
                                close_timeout_s=4.0, ping_interval_s=None)
            task = asyncio.create_task(client.run())
            await recorder.until(lambda: bool(recorder.of('down')))
            down_at = time.monotonic()
            assert not client.connected
            await recorder.until(lambda: len(recorder.of('up')) == 2, timeout=20.0)
            up_again = time.monotonic()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return recorder, down_at, up_again

    recorder, down_at, up_again = run(test(), timeout=60.0)
    assert recorder.of('bad_frame')[0].startswith('received a frame over max_message_bytes')
    assert recorder.of('down')[0].startswith('closed with code 1009')
    # The link was reported down while the unanswered close still held the connection
    # (close_timeout_s 4); the guard then ended it, with no keepalive to do so.
    assert up_again - down_at >= 3.0


@pytest.mark.parametrize('stall', ['reading', 'everything'])
def test_server_a_peer_that_stops_reading_is_found_dead(stall: str) -> None:
    async def test() -> tuple[Recorder, bool]:
        recorder = Recorder()
        server = WebSocketServer(WebSocketServerConfig(
            port=0, ping_interval_s=0.5, ping_timeout_s=0.5, close_timeout_s=0.2), recorder)
        task = asyncio.create_task(server.run())
        port = await server.wait_listening()
        url = f'ws://127.0.0.1:{port}/'
        stalled = await connect(url, ping_interval=None)
        stalled.transport.pause_reading()
        await recorder.until(lambda: server.connected)
        if stall == 'reading':
            for _ in range(400):
                server.send('x' * 100_000)
        await recorder.until(lambda: bool(recorder.of('aborted')), timeout=20.0)
        assert not server.connected
        async with connect(url) as fresh:  # the next peer is served
            await recorder.until(lambda: len(recorder.of('up')) == 2)
            await fresh.send('hello')
            await recorder.until(lambda: recorder.of('frame') == ['hello'])
        stalled.transport.abort()
        await stopped(server, task)
        return recorder, True

    recorder, _ = run(test(), timeout=60.0)
    assert 'nothing received for ' in recorder.of('aborted')[0]
    assert recorder.of('down')[0].startswith('aborted: nothing received')


def _write_at_once(connection: Connection, frames: list[bytes], end: str) -> None:
    # The frames, then what ends the link, in ONE write: the other side reads them together,
    # as the DFX bridge did when dfx_sim's malformed frames preceded its oversize frame.
    protocol = connection.protocol
    for frame in frames:
        protocol.send_binary(frame)
    if end == 'oversize':
        protocol.send_binary(b'x' * 4096)
    else:
        protocol.send_close(CloseCode.GOING_AWAY, 'bye')
    connection.transport.write(b''.join(protocol.data_to_send()))


FRAMES = [b'first', b'second', b'third']


@pytest.mark.parametrize('end', ['oversize', 'close'])
def test_client_frames_that_arrived_before_the_end_are_handed_over_before_link_down(
        end: str) -> None:
    async def test() -> Recorder:
        async def burst(connection: ServerConnection) -> None:
            await connection.recv()  # the client's hello: it is up and reading
            _write_at_once(connection, FRAMES, end)
            await connection.wait_closed()
        async with serve(burst, '127.0.0.1', 0, compression=None, close_timeout=0.5) as server:
            port = server.sockets[0].getsockname()[1]
            recorder = Recorder()
            config = WebSocketClientConfig(url=f'ws://127.0.0.1:{port}/', backoff=FAST,
                                           max_message_bytes=1024, close_timeout_s=0.5)
            client = WebSocketClient(config, recorder, hello=lambda: ['hello'])
            task = asyncio.create_task(client.run())
            await recorder.until(lambda: len(recorder.of('up')) == 2, timeout=20.0)
            await stopped(client, task)
        return recorder

    recorder = run(test(), timeout=60.0)
    first = recorder.events[:recorder.events.index(('up', None), 1)]
    expected: list[tuple[str, object]] = [('up', None), *(('frame', f) for f in FRAMES)]
    if end == 'oversize':
        expected.append(('bad_frame', 'received a frame over max_message_bytes: the link was '
                                      'closed and reopens'))
        expected.append(('down', 'closed with code 1009 (frame with 4096 bytes exceeds limit '
                                 'of 1024 bytes)'))
    else:
        expected.append(('down', 'closed with code 1001 (bye)'))
    assert [e for e in first if e[0] != 'sent'] == expected


def test_server_frames_that_arrived_before_the_peers_close_are_handed_over_before_link_down(
        ) -> None:
    async def test() -> Recorder:
        recorder = Recorder()
        server = WebSocketServer(WebSocketServerConfig(port=0), recorder)
        task = asyncio.create_task(server.run())
        port = await server.wait_listening()
        async with connect(f'ws://127.0.0.1:{port}/', close_timeout=0.5) as peer:
            await recorder.until(lambda: server.connected)
            _write_at_once(peer, FRAMES, 'close')
            await asyncio.wait_for(peer.wait_closed(), 5.0)
        await recorder.until(lambda: bool(recorder.of('down')))
        await stopped(server, task)
        return recorder

    recorder = run(test())
    assert [e for e in recorder.events if e[0] != 'sent'][:5] == [
        ('up', None), *(('frame', f) for f in FRAMES), ('down', 'closed with code 1001 (bye)')]


def test_client_frames_that_came_with_the_handshake_are_handed_over_before_link_down() -> None:
    # The frames and the close arrive with the handshake response: the connection has ended
    # before the client is up. It still reports up, the frames, then down.
    wire = b''.join(WireFrame(Opcode.BINARY, frame).serialize(mask=False) for frame in FRAMES)
    close = Close(CloseCode.GOING_AWAY, 'bye').serialize()
    wire += WireFrame(Opcode.CLOSE, close).serialize(mask=False)

    async def test() -> Recorder:
        async def answer_and_close(reader: asyncio.StreamReader,
                                   writer: asyncio.StreamWriter) -> None:
            try:
                await handshake(reader, writer, then=wire)
                await asyncio.wait_for(reader.read(), 5.0)  # until the client closes
            except (ConnectionError, OSError, asyncio.TimeoutError):
                pass
            finally:
                writer.transport.abort()
        server = await asyncio.start_server(answer_and_close, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        recorder = Recorder()
        client = client_for(f'ws://127.0.0.1:{port}/', recorder)
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: bool(recorder.of('down')))
        await stopped(client, task)
        server.close()
        await server.wait_closed()
        return recorder

    recorder = run(test())
    assert [e for e in recorder.events if e[0] != 'sent'][:5] == [
        ('up', None), *(('frame', f) for f in FRAMES), ('down', 'closed with code 1001 (bye)')]
