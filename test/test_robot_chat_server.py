"""robot_chat_server (a separate process) against raw websocket clients."""

from __future__ import annotations

import asyncio
from functools import partial
import signal
import time
from typing import Callable

import async_helpers
from async_helpers import nothing_arrives
from chat_fixtures import start_server, wait_users
import pytest
from ros_helpers import Proc
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

recv_json = partial(async_helpers.recv_json, timeout=3.0)


def test_users_count_on_connect_and_disconnect_to_all(procs: Callable[..., Proc]) -> None:
    server, url = start_server(procs)

    async def scenario() -> None:
        async with connect(url) as a:
            assert await recv_json(a) == {'type': 'users', 'count': 1}
            async with connect(url) as b:
                assert await recv_json(b) == {'type': 'users', 'count': 2}
                assert await recv_json(a) == {'type': 'users', 'count': 2}
            assert await recv_json(a) == {'type': 'users', 'count': 1}
    asyncio.run(scenario())
    assert server.stop() == 0
    assert 'Traceback' not in server.output


def test_frames_go_verbatim_to_every_other_client_and_never_back(
        procs: Callable[..., Proc]) -> None:
    _, url = start_server(procs)
    odd = '{ "type":"message",   "message": "spacing kept" }'

    async def scenario() -> None:
        async with connect(url) as a, connect(url) as b, connect(url) as c:
            for ws in (a, b, c):
                await wait_users(ws, 3)
            await a.send(odd)
            await a.send(b'\x00binary stays binary')
            for ws in (b, c):
                assert await asyncio.wait_for(ws.recv(), 3) == odd
                assert await asyncio.wait_for(ws.recv(), 3) == b'\x00binary stays binary'
            assert await nothing_arrives(a)
    asyncio.run(scenario())


def test_a_lone_client_hears_nothing_back(procs: Callable[..., Proc]) -> None:
    _, url = start_server(procs)

    async def scenario() -> None:
        async with connect(url) as a:
            await recv_json(a)
            await a.send('{"type": "message"}')
            assert await nothing_arrives(a)
    asyncio.run(scenario())


def test_a_client_that_vanishes_is_removed_without_error_output(
        procs: Callable[..., Proc]) -> None:
    server, url = start_server(procs)

    async def scenario() -> None:
        async with connect(url) as a:
            await recv_json(a)
            b = await connect(url)
            await recv_json(a)
            b.transport.abort()  # TCP reset: no close handshake
            assert await recv_json(a) == {'type': 'users', 'count': 1}
            b2 = await connect(url)
            assert await recv_json(b2) == {'type': 'users', 'count': 2}
            await b2.close()
    asyncio.run(scenario())
    assert server.stop(signal.SIGTERM) == 0
    assert server.output.strip().splitlines()[1:] == []


def test_a_frame_over_max_size_closes_only_its_sender(procs: Callable[..., Proc]) -> None:
    _, url = start_server(procs, 0, '--max-size', '1024')

    async def scenario() -> None:
        async with connect(url, max_size=None) as a, connect(url) as b:
            await wait_users(a, 2)
            await b.send('{"pad": "' + 'x' * 2000 + '"}')
            with pytest.raises(ConnectionClosed) as closed:
                for _ in range(5):
                    await asyncio.wait_for(b.recv(), 3)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            assert await recv_json(a) == {'type': 'users', 'count': 1}
    asyncio.run(scenario())


def test_a_client_that_stops_reading_is_dropped_and_memory_stays_bounded(
        procs: Callable[..., Proc]) -> None:
    server, url = start_server(procs, 0, '--max-send-buffer', str(1 << 20))
    flood = 'x' * 500_000

    async def scenario() -> tuple[int, int, int]:
        async with connect(url) as sender:
            stalled = await connect(url)
            await wait_users(sender, 2)
            stalled.transport.pause_reading()  # reads nothing more: the relay's frames pile up
            base = peak = server.rss_bytes()
            users = asyncio.create_task(wait_users(sender, 1, timeout=60.0))
            sent = 0
            while not users.done() and sent < 400:  # at most 200 MB towards it
                await sender.send(flood)
                sent += 1
                peak = max(peak, server.rss_bytes())
            await users  # the relay dropped the stalled client
            stalled.transport.abort()
            return base, peak, sent

    base, peak, sent = asyncio.run(scenario())
    server.wait_output(r'dropped the peer 127\.0\.0\.1:\d+: \d+ bytes wait in the write '
                       r'buffer, over max_send_buffer_bytes \(1048576\): the peer does not read')
    assert peak - base < 64 << 20, f'relay grew by {(peak - base) >> 20} MiB after {sent} frames'
    assert server.returncode is None


def test_sigterm_ends_the_relay_quickly_while_a_client_stalls(procs: Callable[..., Proc]) -> None:
    server, url = start_server(procs)

    async def scenario() -> float:
        async with connect(url) as sender:
            stalled = await connect(url)
            await wait_users(sender, 2)
            stalled.transport.pause_reading()
            for _ in range(12):  # 6 MB towards the stalled client, under the default bound
                await sender.send('x' * 500_000)
            await asyncio.sleep(0.5)  # the relay writes it out
            assert 'dropped' not in server.output  # still connected when the signal comes
            start = time.monotonic()
            server._popen.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(server.wait_exit, 5.0)
            stalled.transport.abort()
            assert code == 0
            return time.monotonic() - start

    assert asyncio.run(scenario()) < 2.0
    assert 'Traceback' not in server.output
