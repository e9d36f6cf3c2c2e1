"""
JSON over HTTP GET, and retrying until it works: the discovery calls of LetsRobot.

:func:`fetch_json` turns every way a request can fail into one :class:`FetchError` that says
what failed (status, body not JSON, timeout, connection) with the URL stripped of its query
and user info. :func:`retry_with_backoff` repeats any attempt with
:class:`~robot_bridges.runtime.backoff.Backoff` delays until it succeeds, reporting each
failure, so a bridge whose service is down waits instead of crashing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Awaitable, Callable, TypeVar

import aiohttp
from robot_bridges.runtime.backoff import Backoff, sleep_unless
from robot_bridges.runtime.redact import describe_exception, redact_url

T = TypeVar('T')


class FetchError(Exception):
    """
    A GET for JSON failed. The message is safe for logs (the URL is redacted).

    ``kind`` is one of ``'status'`` (``status`` holds the HTTP status), ``'not json'``,
    ``'timeout'`` or ``'connection'``.
    """

    def __init__(self, url: str, kind: str, detail: str, status: int | None = None) -> None:
        self.url = redact_url(url)
        self.kind = kind
        self.status = status
        super().__init__(f'GET {self.url}: {detail}')


class RetryStopped(Exception):
    """:func:`retry_with_backoff` gave up because its ``stop`` event was set."""


async def fetch_json(url: str, *, timeout_s: float,
                     session: aiohttp.ClientSession | None = None) -> object:
    """
    GET ``url`` and return its body decoded as JSON.

    Any 2xx status is accepted; the Content-Type is not checked, since the historical
    servers did not always set it. Pass ``session`` to reuse connections; without one a
    session is opened and closed for this call.

    Raises :class:`FetchError` on a non-2xx status, a body that is not JSON (or not UTF-8),
    a timeout (``timeout_s`` covers the whole request) or a connection failure.
    """
    if session is None:
        async with aiohttp.ClientSession() as own_session:
            return await fetch_json(url, timeout_s=timeout_s, session=own_session)
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            if not 200 <= response.status < 300:
                raise FetchError(url, 'status', f'HTTP {response.status} {response.reason or ""}'
                                 .rstrip(), status=response.status)
            body = await response.read()
    except asyncio.TimeoutError as exc:
        raise FetchError(url, 'timeout', f'no answer within {timeout_s:g} s') from exc
    except (aiohttp.ClientError, ValueError) as exc:
        # Connection refused, reset, bad URL: the exception's text may repeat the URL.
        detail = type(exc).__name__
        if isinstance(exc, aiohttp.ClientConnectorError):
            detail += f': cannot connect to {exc.host}:{exc.port}'
        raise FetchError(url, 'connection', detail) from exc
    try:
        return json.loads(body)
    except ValueError as exc:
        raise FetchError(url, 'not json', f'body is not JSON ({describe_exception(exc)})'
                         ) from exc


async def retry_with_backoff(attempt: Callable[[], Awaitable[T]], backoff: Backoff,
                             on_error: Callable[[str], None],
                             stop: asyncio.Event | None = None) -> T:
    """
    Await ``attempt()`` until it returns; after each failure wait a backoff delay.

    Every exception an attempt raises (not cancellation) is reported as one line through
    ``on_error`` and retried. Make sure the attempt's exceptions carry no secret:
    :class:`FetchError` does not. Setting ``stop`` ends the wait and an attempt in flight.

    Raises :class:`RetryStopped` once ``stop`` is set.
    """
    delays = backoff.delays()
    while True:
        if stop is not None and stop.is_set():
            raise RetryStopped('stopped before an attempt succeeded')
        try:
            return await _unless_stopped(attempt(), stop)
        except RetryStopped:
            raise
        except Exception as exc:  # noqa: B902 - whatever failed is reported and retried
            on_error(describe_exception(exc))
        await sleep_unless(stop, next(delays))


async def _unless_stopped(awaitable: Awaitable[T], stop: asyncio.Event | None) -> T:
    if stop is None:
        return await awaitable
    work: asyncio.Future[T] = asyncio.ensure_future(awaitable)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait((work, stopped), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        raise
    finally:
        stopped.cancel()
    if work in done:
        return work.result()
    work.cancel()
    # Let the cancelled attempt unwind (close its connection) before reporting the stop.
    await asyncio.gather(work, return_exceptions=True)
    raise RetryStopped('stopped while an attempt was in flight')
