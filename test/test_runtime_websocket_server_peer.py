"""WebSocketServer: the connected peer's address, refused peers counted, dropping a peer."""

from __future__ import annotations

import asyncio
from functools import partial

import async_helpers
from async_helpers import Recorder, WAIT_S
import pytest
from robot_bridges.node.cycle_window import CycleWindow, summarize
from robot_bridges.runtime.websocket_server import WebSocketServer, WebSocketServerConfig
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

run = partial(async_helpers.run, timeout=20.0)


def test_peer_address_refused_count_and_drop_peer() -> None:
    async def test() -> tuple[str, str, int, int, list[object]]:
        recorder = Recorder()
        server = WebSocketServer(WebSocketServerConfig(port=0), recorder)
        task = asyncio.create_task(server.run())
        url = f'ws://127.0.0.1:{await server.wait_listening()}'
        before = server.peer_address
        async with connect(url) as first:
            await recorder.until(lambda: server.connected)
            address = server.peer_address
            local = '%s:%d' % first.local_address[:2]
            assert address == local
            for _ in range(2):
                async with connect(url) as second:
                    with pytest.raises(ConnectionClosed):
                        await asyncio.wait_for(second.recv(), WAIT_S)
            await server.drop_peer(1008, 'no reply in time')
            with pytest.raises(ConnectionClosed) as caught:
                await asyncio.wait_for(first.recv(), WAIT_S)
        await recorder.until(lambda: bool(recorder.of('down')))
        await server.drop_peer(1008, 'nobody there')  # no peer: nothing happens
        await asyncio.wait_for(server.close(), WAIT_S)
        await asyncio.wait_for(task, WAIT_S)
        assert caught.value.rcvd is not None
        return before, address, server.refused, int(caught.value.rcvd.code), \
            recorder.of('down')

    before, address, refused, code, downs = run(test())
    assert before == '' and address.startswith('127.0.0.1:')
    assert refused == 2 and code == 1008
    assert downs == ['closed with code 1008 (no reply in time)']


def test_cycle_window_rate_and_percentiles() -> None:
    window = CycleWindow(window_s=1.0)
    now = 100.0
    window.tick(now)
    for i in range(1, 1001):
        now += 0.002 if i % 100 else 0.1  # two slow cycles among fast ones
        window.tick(now)
        if window.summary.ended:
            break
    summary = window.summary
    assert summary.ended == now
    assert summary.p50_ms == pytest.approx(2.0) and summary.p99_ms == pytest.approx(2.0)
    assert summary.rate_hz == pytest.approx(i / (now - 100.0))
    assert window.current(now + 1.0) == summary
    assert window.current(now + 10.0).rate_hz == 0.0  # stale: the cycle stopped
    window.reset()
    assert window.summary.rate_hz == 0.0
    slow = summarize([0.001] * 98 + [0.05, 0.06], 1.0, 5.0)
    assert (slow.p50_ms, slow.p99_ms, slow.rate_hz) == (1.0, 50.0, 100.0)
