"""
Publishing at most ``max_publish_rate`` messages per second, without delay below it.

A reliable DDS stream whose publisher outruns its subscriber falls into a repair regime that
delivers far less than the subscriber takes when it is paced (README, "High-rate topics").
A bridge republishes bursts as fast as its service sends them, so a user whose subscriber
takes N msg/s sets ``max_publish_rate`` just below N: a message that finds a token is
published at once (bursts of up to :data:`BURST_S` of the rate pass unpaced); the others wait
in order in a bounded queue that drains on the asyncio loop at the rate. Loop thread only.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Callable

from robot_bridges.runtime.token_bucket import TokenBucket

# Bursts of up to this long at the rate pass without waiting.
BURST_S = 0.01
# A drain that runs late (the loop was busy reading the burst) publishes what is overdue, up
# to this long of the rate, so the average rate holds under load: after a late drain, up to
# BURST_S + CATCH_UP_S of the rate go out back to back.
CATCH_UP_S = 0.02
# The drain wakes at most this often (the loop's timers are ~1 ms coarse anyway), releasing
# every token due by then: not one timer per message at high rates.
DRAIN_PERIOD_S = 0.001


class PacedPublisher:
    """Has the ``publish(msg)`` of a publisher; paces it with a token bucket."""

    def __init__(self, publish: Callable[[Any], Any], rate: float, limit: int,
                 loop: asyncio.AbstractEventLoop, dropped: Callable[[int], None]) -> None:
        """
        Pace ``publish`` to ``rate`` msg/s; at most ``limit`` messages wait.

        Past ``limit`` the oldest waiting message is dropped and ``dropped(1)`` called.
        """
        self._publish = publish
        self._loop = loop
        self._bucket = TokenBucket(rate, max(1.0, rate * BURST_S), loop.time())
        self._limit = max(1, limit)
        self._dropped = dropped
        self._queue: deque[Any] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        """Return how many messages wait."""
        return len(self._queue)

    def publish(self, msg: Any) -> None:
        """
        Publish now if the rate allows and nothing waits; queue otherwise.

        While messages wait, each new one also releases those that are due: a loop busy
        reading a burst may run the drain timer late, and the rate must hold all the same.
        """
        queue = self._queue
        if not queue:
            if self._bucket.take(self._loop.time()):
                self._publish(msg)
                return
            queue.append(msg)
            if self._timer is None:
                self._schedule()
            return
        if len(queue) >= self._limit:
            queue.popleft()
            self._dropped(1)
        queue.append(msg)
        self._release(self._loop.time())

    def clear(self) -> int:
        """Stop draining and forget what waits; return how many messages that was."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting = len(self._queue)
        self._queue.clear()
        return waiting

    def _schedule(self) -> None:
        now = self._loop.time()
        self._timer = self._loop.call_at(
            max(self._bucket.ready_at(now), now + DRAIN_PERIOD_S), self._drain)

    def _release(self, now: float) -> None:
        """Publish, oldest first, what waits and is due at ``now``."""
        queue, bucket = self._queue, self._bucket
        while queue and bucket.take(now, CATCH_UP_S):
            self._publish(queue.popleft())

    def _drain(self) -> None:
        self._timer = None
        try:
            self._release(self._loop.time())
        finally:  # ``publish`` must not raise; if it did, what waits still drains
            if self._queue and self._timer is None:
                self._schedule()
