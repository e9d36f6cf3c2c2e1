"""
Publishing at most ``max_publish_rate`` messages per second, without delay below it.

A reliable DDS stream whose publisher outruns its subscriber falls into a repair regime that
delivers far less than the subscriber takes when it is paced (README, "High-rate topics").
A bridge republishes bursts as fast as its service sends them, so a user whose subscriber
takes N msg/s sets ``max_publish_rate`` just below N: a message that finds a token is
published at once (bursts of up to :data:`BURST_S` of the rate pass unpaced); the others wait
in order in a bounded queue that drains on the asyncio loop at the rate. The rate can change
at any time (:meth:`PacedPublisher.set_rate`); at 0 the publisher's own ``publish`` is used
directly, so the unpaced hot path costs nothing. Loop thread only.

Overflow is a steady condition, not an event: while messages arrive faster than the rate
for longer than the queue holds, one is dropped for each that arrives. The publisher reports
it twice, when it starts (the first drop) and when it ends (no drop for
:data:`OVERFLOW_HOLD_S`), and counts every drop.
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
# An overflow has ended when nothing was dropped for this long.
OVERFLOW_HOLD_S = 5.0


class PacedPublisher:
    """Has the ``publish(msg)`` of a publisher; paces it with a token bucket while rate > 0."""

    #: Publish ``msg`` now, or queue it for its slot. Rebound by :meth:`set_rate`: the plain
    #: publisher's own method while unpaced.
    publish: Callable[[Any], Any]

    def __init__(self, publish: Callable[[Any], Any], rate: float, limit: int,
                 loop: asyncio.AbstractEventLoop, dropped: Callable[[int], None], *,
                 direct: Callable[[Any], Any] | None = None,
                 overflowing: Callable[[bool], None] | None = None) -> None:
        """
        Pace ``publish`` to ``rate`` msg/s (0: no pacing); at most ``limit`` messages wait.

        ``direct`` publishes while unpaced (default: ``publish``, which must not raise: it
        also runs from the loop's timers). Past ``limit`` the oldest waiting message is
        dropped and ``dropped(1)`` called; ``overflowing(True)`` is called at the first drop,
        ``overflowing(False)`` once none followed for OVERFLOW_HOLD_S (or pacing stopped).
        """
        self._deferred = publish
        self._direct = direct or publish
        self._loop = loop
        self._limit = max(1, limit)
        self._dropped = dropped
        self._overflowing = overflowing or (lambda state: None)
        self._queue: deque[Any] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._bucket: TokenBucket | None = None
        self._last_drop = 0.0
        self._overflow_timer: asyncio.TimerHandle | None = None
        self.rate = 0.0
        self.publish = self._direct
        self.set_rate(rate)

    def __len__(self) -> int:
        """Return how many messages wait."""
        return len(self._queue)

    @property
    def overflowing(self) -> bool:
        """Whether messages were dropped within the last OVERFLOW_HOLD_S."""
        return self._overflow_timer is not None

    def set_rate(self, rate: float) -> None:
        """
        Pace to ``rate`` msg/s from now on; 0 stops pacing.

        Messages waiting when pacing stops are published at once, in order; a new rate
        starts with a full burst.
        """
        if rate <= 0:
            self.rate = 0.0
            self._bucket = None
            self._cancel_drain()
            queue = self._queue
            while queue:
                self._deferred(queue.popleft())
            self._end_overflow()
            self.publish = self._direct
            return
        self.rate = rate
        self._bucket = TokenBucket(rate, max(1.0, rate * BURST_S), self._loop.time())
        self.publish = self._paced
        if self._queue:
            self._cancel_drain()
            self._schedule()

    def clear(self) -> int:
        """Stop draining and forget what waits; return how many messages that was."""
        self._cancel_drain()
        self._end_overflow()
        waiting = len(self._queue)
        self._queue.clear()
        return waiting

    def _paced(self, msg: Any) -> None:
        """
        Publish now if the rate allows and nothing waits; queue otherwise.

        While messages wait, each new one also releases those that are due: a loop busy
        reading a burst may run the drain timer late, and the rate must hold all the same.
        """
        queue, bucket = self._queue, self._bucket
        assert bucket is not None
        if not queue:
            if bucket.take(self._loop.time()):
                self._deferred(msg)
                return
            queue.append(msg)
            if self._timer is None:
                self._schedule()
            return
        if len(queue) >= self._limit:
            queue.popleft()
            self._drop()
        queue.append(msg)
        self._release(self._loop.time())

    def _drop(self) -> None:
        self._dropped(1)
        self._last_drop = self._loop.time()
        if self._overflow_timer is None:
            self._overflow_timer = self._loop.call_at(self._last_drop + OVERFLOW_HOLD_S,
                                                      self._check_overflow)
            self._overflowing(True)

    def _check_overflow(self) -> None:
        due = self._last_drop + OVERFLOW_HOLD_S
        if self._loop.time() < due:  # dropped again meanwhile: look again then
            self._overflow_timer = self._loop.call_at(due, self._check_overflow)
            return
        self._overflow_timer = None
        self._overflowing(False)

    def _end_overflow(self) -> None:
        if self._overflow_timer is not None:
            self._overflow_timer.cancel()
            self._overflow_timer = None
            self._overflowing(False)

    def _cancel_drain(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        assert self._bucket is not None
        now = self._loop.time()
        self._timer = self._loop.call_at(
            max(self._bucket.ready_at(now), now + DRAIN_PERIOD_S), self._drain)

    def _release(self, now: float) -> None:
        """Publish, oldest first, what waits and is due at ``now``."""
        queue, bucket = self._queue, self._bucket
        assert bucket is not None
        while queue and bucket.take(now, CATCH_UP_S):
            self._deferred(queue.popleft())

    def _drain(self) -> None:
        self._timer = None
        try:
            self._release(self._loop.time())
        finally:  # ``publish`` must not raise; if it did, what waits still drains
            if self._queue and self._timer is None:
                self._schedule()
