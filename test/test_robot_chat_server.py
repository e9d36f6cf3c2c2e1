"""robot_chat_server (a separate process) against raw websocket clients."""

from __future__ import annotations

import asyncio
from functools import partial
import signal
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
