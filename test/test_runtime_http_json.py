"""fetch_json and retry_with_backoff against a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Awaitable, Callable, TypeVar

import aiohttp
from aiohttp import web
import async_helpers
import pytest
from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.http_json import (fetch_json, FetchError, retry_with_backoff,
                                             RetryStopped)

T = TypeVar('T')
FAST = Backoff(min_s=0.01, max_s=0.05)
run = partial(async_helpers.run, timeout=10.0)


class JsonServer:
    """An aiohttp app on 127.0.0.1, port 0, with one route per kind of answer."""

    def __init__(self) -> None:
        self.hits = 0
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_get('/good/{robot_id}', self.good)
        app.router.add_get('/text', self.text)
        app.router.add_get('/latin1', self.latin1)
        app.router.add_get('/error', self.error)
        app.router.add_get('/slow', self.slow)
        app.router.add_get('/flaky', self.flaky)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        self.url = ''

    async def __aenter__(self) -> JsonServer:
        await self.runner.setup()
        site = web.TCPSite(self.runner, '127.0.0.1', 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f'http://{host}:{port}'
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await self.runner.cleanup()

    async def good(self, request: web.Request) -> web.Response:
        # The historical servers answered JSON as text/html: the content type is not checked.
        robot = request.match_info['robot_id']
        body = f'{{"host": "127.0.0.1", "port": 8022, "robot": "{robot}"}}'
        return web.Response(text=body, content_type='text/html')

    async def text(self, request: web.Request) -> web.Response:
        return web.Response(text='<html>not json</html>')

    async def latin1(self, request: web.Request) -> web.Response:
        return web.Response(body=b'{"name": "\xe9"}', content_type='application/json')

    async def error(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text='{"error": "boom"}')

    async def slow(self, request: web.Request) -> web.Response:
        await self.release.wait()
        return web.json_response({'late': True})

    async def flaky(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.hits < 3:
            return web.Response(status=503)
        return web.json_response({'mpeg_stream_port': 1234})


async def serving(test: Callable[[JsonServer], Awaitable[T]]) -> T:
    async with JsonServer() as server:
        return await test(server)


def test_good_json_is_decoded_whatever_its_content_type() -> None:
    async def test(server: JsonServer) -> object:
        return await fetch_json(f'{server.url}/good/r1', timeout_s=2.0)

    assert run(serving(test)) == {'host': '127.0.0.1', 'port': 8022, 'robot': 'r1'}


def test_a_shared_session_is_used_and_left_open() -> None:
    async def test(server: JsonServer) -> tuple[object, object, bool]:
        async with aiohttp.ClientSession() as session:
            first = await fetch_json(f'{server.url}/good/a', timeout_s=2.0, session=session)
            second = await fetch_json(f'{server.url}/good/b', timeout_s=2.0, session=session)
            return first, second, session.closed

    first, second, closed = run(serving(test))
    assert first == {'host': '127.0.0.1', 'port': 8022, 'robot': 'a'}
    assert second == {'host': '127.0.0.1', 'port': 8022, 'robot': 'b'}
    assert not closed


@pytest.mark.parametrize('path', ['/text', '/latin1'])
def test_a_body_that_is_not_json_says_so(path: str) -> None:
    async def test(server: JsonServer) -> FetchError:
        with pytest.raises(FetchError) as caught:
            await fetch_json(f'{server.url}{path}', timeout_s=2.0)
        return caught.value

    error = run(serving(test))
    assert error.kind == 'not json'
    assert 'not JSON' in str(error)
    assert error.status is None


def test_an_error_status_says_which() -> None:
    async def test(server: JsonServer) -> FetchError:
        with pytest.raises(FetchError) as caught:
            await fetch_json(f'{server.url}/error', timeout_s=2.0)
        return caught.value

    error = run(serving(test))
    assert (error.kind, error.status) == ('status', 500)
    assert 'HTTP 500' in str(error)


def test_a_slow_server_times_out() -> None:
    async def test(server: JsonServer) -> tuple[FetchError, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(FetchError) as caught:
            await fetch_json(f'{server.url}/slow', timeout_s=0.2)
        return caught.value, loop.time() - started

    error, elapsed = run(serving(test))
    assert error.kind == 'timeout'
    assert 'no answer within 0.2 s' in str(error)
    assert elapsed < 2.0


def test_a_refused_connection_is_a_fetch_error_without_the_query() -> None:
    async def test(server: JsonServer) -> tuple[FetchError, str]:
        url = server.url
        await server.runner.cleanup()  # nothing listens on that port any more
        with pytest.raises(FetchError) as caught:
            await fetch_json(f'{url}/good/r1?key=SECRET', timeout_s=2.0)
        return caught.value, url

    error, url = run(serving(test))
    assert error.kind == 'connection'
    assert error.url == f'{url}/good/r1'
    assert 'SECRET' not in str(error)


def test_retry_reports_each_failure_then_returns_the_result() -> None:
    async def test(server: JsonServer) -> tuple[object, list[str]]:
        errors: list[str] = []
        result = await retry_with_backoff(
            lambda: fetch_json(f'{server.url}/flaky', timeout_s=2.0), FAST, errors.append)
        return result, errors

    result, errors = run(serving(test))
    assert result == {'mpeg_stream_port': 1234}
    assert len(errors) == 2
    assert all('HTTP 503' in e and e.startswith('FetchError: ') for e in errors)


def test_retry_survives_any_exception() -> None:
    async def test() -> tuple[str, list[str]]:
        calls = iter([KeyError('port'), ValueError('bad'), None])
        errors: list[str] = []

        async def attempt() -> str:
            exc = next(calls)
            if exc is not None:
                raise exc
            return 'ok'

        return await retry_with_backoff(attempt, FAST, errors.append), errors

    result, errors = run(test())
    assert result == 'ok'
    assert errors == ["KeyError: 'port'", 'ValueError: bad']


def test_retry_stops_between_attempts() -> None:
    async def test() -> list[str]:
        stop = asyncio.Event()
        errors: list[str] = []

        async def attempt() -> None:
            stop.set()
            raise OSError('down')

        with pytest.raises(RetryStopped):
            await retry_with_backoff(attempt, Backoff(min_s=30.0, max_s=30.0), errors.append,
                                     stop)
        return errors

    assert run(test(), timeout=5.0) == ['OSError: down']


def test_retry_stops_an_attempt_in_flight() -> None:
    async def test(server: JsonServer) -> list[str]:
        stop = asyncio.Event()
        errors: list[str] = []
        asyncio.get_running_loop().call_later(0.2, stop.set)
        with pytest.raises(RetryStopped):
            await retry_with_backoff(lambda: fetch_json(f'{server.url}/slow', timeout_s=30.0),
                                     FAST, errors.append, stop)
        return errors

    assert run(serving(test), timeout=5.0) == []


def test_retry_with_stop_already_set_makes_no_attempt() -> None:
    async def test() -> int:
        stop = asyncio.Event()
        stop.set()
        calls = 0

        async def attempt() -> None:
            nonlocal calls
            calls += 1

        with pytest.raises(RetryStopped):
            await retry_with_backoff(attempt, FAST, print, stop)
        return calls

    assert run(test()) == 0


def test_cancelling_retry_cancels_the_attempt() -> None:
    async def test() -> bool:
        started = asyncio.Event()
        cancelled = False

        async def attempt() -> None:
            nonlocal cancelled
            started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled = True
                raise

        task = asyncio.ensure_future(
            retry_with_backoff(attempt, FAST, print, asyncio.Event()))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return cancelled

    assert run(test())
