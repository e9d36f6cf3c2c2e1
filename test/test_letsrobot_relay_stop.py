"""A relay sink's stop with a stream still being POSTed: the stream ends, aiohttp logs nothing."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import AsyncIterator

from aiohttp import ClientSession, web
import pytest
from robot_bridges.sims.letsrobot_relay import PACKET, RelaySink

KEY = 'stop-test-key'


async def endless_ts() -> AsyncIterator[bytes]:
    """Yield null MPEG-TS packets (PID 0x1FFF) every 10 ms, as a streamer that never ends."""
    null = b'\x47\x1f\xff\x10' + b'\xff' * (PACKET - 4)
    for _ in range(3000):  # 30 s at most: far longer than the test
        yield null * 5
        await asyncio.sleep(0.01)


async def stream_then_stop() -> tuple[RelaySink, float, str]:
    """Stream into a sink and stop it as letsrobot_sim does: the sink, the stop time, the end."""
    sink = RelaySink('video', KEY)
    # A long shutdown wait: a stop that waited for the handler would take all of it.
    runner = web.AppRunner(sink.app, shutdown_timeout=2.0, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, '127.0.0.1', 0)
    await site.start()
    port = runner.addresses[0][1]

    async def post() -> str:
        try:
            async with ClientSession() as session:
                await session.post(f'http://127.0.0.1:{port}/{KEY}/320/240/', data=endless_ts())
        except Exception as exc:  # noqa: B902 - how the client saw the end is the result
            return type(exc).__name__
        return 'answered'

    client = asyncio.create_task(post())
    deadline = time.monotonic() + 10.0
    while not (sink.sessions and sink.sessions[-1].checker.packets) and \
            time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await sink.end_streams(1.0)
    await runner.cleanup()
    took = time.monotonic() - started
    return sink, took, await asyncio.wait_for(client, 5.0)


def test_stopping_a_sink_ends_an_open_stream_without_an_aiohttp_error(
        caplog: pytest.LogCaptureFixture) -> None:
    """end_streams closes the streamer's connection, so cleanup finds no handler to wait for."""
    with caplog.at_level(logging.DEBUG, logger='aiohttp'):
        sink, took, client_end = asyncio.run(stream_then_stop())
    assert sink.sessions and sink.sessions[-1].checker.packets > 0, sink.summary()
    assert sink.sessions[-1].ended is not None, 'the session did not end'
    assert not sink.summary()['last']['open'], sink.summary()
    assert took < 1.0, f'the stop took {took:.3f} s: it waited out aiohttp shutdown_timeout'
    assert client_end != 'answered', 'the endless stream was answered, not cut'
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
