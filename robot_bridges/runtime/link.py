"""
What every transport tells its owner, and the bounded queue of frames waiting to go out.

A transport (websocket client or server, socket.io connection, supervised subprocess) calls
its :class:`LinkListener` on the asyncio loop thread. The listener is the bridge node; it
translates frames and keeps the counters that diagnostics report.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Awaitable, Callable, Generic, Protocol, TypeVar

Frame = str | bytes
T = TypeVar('T')


class LinkListener(Protocol):
    """Callbacks a transport makes, always on the asyncio loop thread."""

    def link_up(self) -> None:
        """Handle a connection that is open and identified; traffic may flow."""

    def link_down(self, reason: str) -> None:
        """Handle the loss of the connection; the transport reconnects unless it was closed."""

    def link_frame(self, frame: Frame) -> None:
        """One frame arrived. Must not block: translate and publish, nothing else."""

    def link_sent(self, count: int) -> None:
        """``count`` queued frames were handed to the socket."""

    def link_bad_frame(self, what: str) -> None:
        """Handle a received frame the transport rejected (over the size limit, not UTF-8)."""

    def link_error(self, what: str) -> None:
        """Something failed that the transport survived (a connect attempt, a send)."""

    def link_aborted(self, reason: str) -> None:
        """Handle a live link the transport aborted (dead peer, write buffer over its bound)."""


class Outbox(Generic[T]):
    """
    A bounded FIFO that keeps items until they are sent; overflow drops the oldest.

    Lives on the asyncio loop: call :meth:`put` and :meth:`drain` from the loop thread only.
    """

    def __init__(self, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError(f'outbox size must be at least 1, got {maxlen}')
        self._items: deque[T] = deque()
        self._maxlen = maxlen
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        """Whether the next :meth:`put` would drop the oldest item."""
        return len(self._items) >= self._maxlen

    async def room(self) -> None:
        """Wait until an item can be put without dropping one (for producers that can wait)."""
        while self.full:
            self._room.clear()
            await self._room.wait()

    def clear(self) -> None:
        """Forget every queued item (the caller counts them)."""
        self._items.clear()

    def put(self, item: T) -> bool:
        """Queue ``item``; return False when the oldest item had to be dropped for it."""
        kept_all = True
        if len(self._items) >= self._maxlen:
            self._items.popleft()
            self.dropped += 1
            kept_all = False
        self._items.append(item)
        self._wakeup.set()
        return kept_all

    async def drain(self, send: Callable[[T], Awaitable[None]],
                    sent: Callable[[int], None]) -> None:
        """
        Send items in order forever; an item whose ``send`` failed goes back to the front.

        Cancel the task running this to stop; an item whose send was interrupted stays queued.
        The item in flight is out of the queue, so an overflow meanwhile drops the oldest
        item still waiting, never the one being sent.
        """
        items = self._items
        while True:
            count = 0
            while items:
                item = items.popleft()
                self._room.set()
                try:
                    await send(item)
                except BaseException:
                    items.appendleft(item)
                    raise
                count += 1
            if count:
                sent(count)
            self._wakeup.clear()
            await self._wakeup.wait()
