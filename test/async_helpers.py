"""Asyncio test helpers: bounded runs, a recording listener, waits, websocket reads."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable, Coroutine, Protocol, TypeVar

from robot_bridges.runtime.link import Frame
from websockets.asyncio.client import ClientConnection

T = TypeVar('T')
WAIT_S = 5.0


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run a test coroutine with a bound on its duration."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Changing:
    """State that changes on the event loop; ``until`` waits for a condition on it."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    async def until(self, predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
        """Wait until ``predicate()`` holds, checking again after each change."""
        async def poll() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(poll(), timeout)


class Recorder(Changing):
    """
    A listener that records every callback, in order, as (kind, value).

    It serves as a LinkListener (up, down, frame, sent, bad_frame, error, aborted), as the
    socket.io on_event callback (event) and as a ProcessListener (started, output, exited,
    error).
    """

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, object]] = []

    def _add(self, kind: str, value: object = None) -> None:
        self.events.append((kind, value))
        self._changed.set()

    def link_up(self) -> None:
        self._add('up')

    def link_down(self, reason: str) -> None:
        self._add('down', reason)

    def link_frame(self, frame: Frame) -> None:
        self._add('frame', frame)

    def link_sent(self, count: int) -> None:
        self._add('sent', count)

    def link_bad_frame(self, what: str) -> None:
        self._add('bad_frame', what)

    def link_error(self, what: str) -> None:
        self._add('error', what)

    def link_aborted(self, reason: str) -> None:
        self._add('aborted', reason)

    def on_event(self, event: str, data: object) -> None:
        self._add('event', (event, data))

    def process_started(self, pid: int) -> None:
        self._add('started', pid)

    def process_output(self, line: str) -> None:
        self._add('output', line)

    def process_exited(self, returncode: int, reason: str) -> None:
        self._add('exited', (returncode, reason))

    def process_error(self, what: str) -> None:
        self._add('error', what)

    def of(self, kind: str) -> list[Any]:
        """Return the values recorded for ``kind``, in order."""
        return [value for k, value in self.events if k == kind]


class Closable(Protocol):
    """A client whose close() ends its run() task."""

    async def close(self) -> None: ...


async def stopped(client: Closable, task: asyncio.Task[None]) -> None:
    """Close ``client`` and wait for its run() ``task`` to end, each within WAIT_S."""
    await asyncio.wait_for(client.close(), WAIT_S)
    await asyncio.wait_for(task, WAIT_S)


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> Any:
    """Receive the next frame, decoded."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def nothing_arrives(ws: ClientConnection, within: float = 0.3) -> bool:
    """Return whether no frame arrives ``within`` seconds."""
    try:
        await asyncio.wait_for(ws.recv(), within)
    except asyncio.TimeoutError:
        return True
    return False
