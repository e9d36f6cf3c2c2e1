"""max_publish_rate: the token bucket (sans-I/O) and the paced publisher on a real loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from robot_bridges.node import paced_publisher
from robot_bridges.node.paced_publisher import BURST_S, PacedPublisher
from robot_bridges.runtime.token_bucket import TokenBucket


def test_a_full_bucket_spends_its_burst_then_refills_at_the_rate() -> None:
    bucket = TokenBucket(rate=100.0, burst=3.0, now=10.0)
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.ready_at(10.0) == pytest.approx(10.01)
    assert not bucket.take(10.005)
    assert bucket.take(10.0101)
    # Idle time refills up to the burst, never beyond it.
    assert [bucket.take(20.0) for _ in range(4)] == [True, True, True, False]


def test_ready_at_is_now_while_a_token_is_there() -> None:
    bucket = TokenBucket(rate=5.0, burst=1.0, now=0.0)
    assert bucket.ready_at(0.0) == 0.0
    assert bucket.take(0.0)
    assert bucket.ready_at(0.1) == pytest.approx(0.2)


@pytest.mark.parametrize('rate, burst', [(0.0, 1.0), (-1.0, 1.0), (10.0, 0.5),
                                         (float('nan'), 1.0)])
def test_a_bucket_needs_a_positive_rate_and_a_whole_burst(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst, 0.0)


class Sink:
    """What the paced publisher published, with the loop time of each."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.messages: list[Any] = []
        self.times: list[float] = []
        self.dropped = 0

    def publish(self, msg: Any) -> None:
        self.messages.append(msg)
        self.times.append(self.loop.time())

    def drop(self, count: int) -> None:
        self.dropped += count


def paced(rate: float, limit: int) -> tuple[Sink, PacedPublisher]:
    """Return a sink and a paced publisher into it, on the running loop."""
    sink = Sink(asyncio.get_running_loop())
    return sink, PacedPublisher(sink.publish, rate, limit, sink.loop, sink.drop)


async def until(predicate: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, 'timed out'
        await asyncio.sleep(0.005)


def test_below_the_rate_every_message_is_published_at_once() -> None:
    async def main() -> None:
        sink, pacer = paced(1000.0, 100)
        for n in range(5):
            pacer.publish(n)
            assert sink.messages[-1] == n  # synchronously: no added latency
            await asyncio.sleep(0.01)
        assert len(pacer) == 0
    asyncio.run(main())


def test_a_burst_goes_out_in_order_at_the_rate_and_nothing_is_lost() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        rate, count = 1000.0, 400
        sink, pacer = paced(rate, 1000)
        start = loop.time()
        for n in range(count):
            pacer.publish(n)
        burst = int(rate * BURST_S)
        # The bucket's burst passed at once; then only what fell due while the loop ran.
        due = burst + int((loop.time() - start) * rate) + 1
        assert burst <= len(sink.messages) <= due
        assert sink.messages + list(pacer._queue) == list(range(count))
        await until(lambda: len(sink.messages) == count)
        assert sink.messages == list(range(count)) and sink.dropped == 0
        # Never faster than the rate allows (timers only ever fire late).
        assert sink.times[-1] - start >= (count - burst) / rate * 0.99
    asyncio.run(main())


def test_a_busy_loop_still_publishes_at_the_rate() -> None:
    # A bridge reading a burst may hold its loop for a long time: the drain timer cannot run,
    # so each new message releases what is due. 0.2 s without yielding at 1,000 msg/s: about
    # 200 published (the 10 ms burst included), never more than the rate allows.
    async def main() -> None:
        loop = asyncio.get_running_loop()
        rate = 1000.0
        sink, pacer = paced(rate, 10_000)
        start = loop.time()
        n = 0
        while loop.time() - start < 0.2:
            pacer.publish(n)
            n += 1
            time.sleep(0.0002)
        elapsed = loop.time() - start
        assert rate * elapsed * 0.9 <= len(sink.messages) <= rate * (elapsed + BURST_S) + 1
        assert sink.messages == list(range(len(sink.messages)))
        await until(lambda: len(pacer) == 0)
        assert sink.messages == list(range(n)) and sink.dropped == 0
    asyncio.run(main())


def test_past_the_limit_the_oldest_waiting_message_is_dropped_and_counted() -> None:
    async def main() -> None:
        sink, pacer = paced(10.0, 3)  # burst: 1 message
        for n in range(6):
            pacer.publish(n)
        assert sink.messages == [0] and len(pacer) == 3 and sink.dropped == 2
        await until(lambda: len(sink.messages) == 4, timeout=2.0)
        assert sink.messages == [0, 3, 4, 5]
    asyncio.run(main())


def test_clear_forgets_what_waits_and_stops_the_drain() -> None:
    async def main() -> None:
        sink, pacer = paced(100.0, 100)
        for n in range(10):
            pacer.publish(n)
        assert pacer.clear() == 9 and len(pacer) == 0
        await asyncio.sleep(0.1)
        assert sink.messages == [0]
        pacer.publish('after')  # usable again (deactivate, then activate)
        await until(lambda: sink.messages[-1] == 'after')
    asyncio.run(main())


def test_a_backlog_drained_late_keeps_its_slots_up_to_the_catch_up() -> None:
    bucket = TokenBucket(rate=100.0, burst=1.0, now=0.0)
    assert bucket.take(0.0)
    # 30 ms late: the three overdue slots (10, 20, 30 ms) go at once, then the schedule holds.
    assert [bucket.take(0.03, catch_up=0.05) for _ in range(4)] == [True, True, True, False]
    # Later than the catch-up: only catch_up of slots are kept.
    assert sum(bucket.take(1.0, catch_up=0.05) for _ in range(20)) == 6
    # An idle bucket (no catch-up) refills to its burst only.
    assert sum(bucket.take(5.0) for _ in range(5)) == 1


def test_at_rate_zero_publish_is_the_direct_publisher_itself() -> None:
    async def main() -> None:
        sink, direct = Sink(asyncio.get_running_loop()), Sink(asyncio.get_running_loop())
        pacer = PacedPublisher(sink.publish, 0.0, 5, sink.loop, sink.drop,
                               direct=direct.publish)
        assert pacer.publish == direct.publish  # no wrapper on the unpaced hot path
        for n in range(50):
            pacer.publish(n)
        assert direct.messages == list(range(50)) and sink.messages == [] and len(pacer) == 0
    asyncio.run(main())


def test_a_rate_set_at_run_time_paces_from_then_on_and_zero_releases_what_waits() -> None:
    async def main() -> None:
        sink = Sink(asyncio.get_running_loop())
        pacer = PacedPublisher(sink.publish, 0.0, 100, sink.loop, sink.drop)
        pacer.publish('unpaced')
        pacer.set_rate(10.0)  # burst: 1 message
        for n in range(5):
            pacer.publish(n)
        assert sink.messages == ['unpaced', 0] and len(pacer) == 4
        pacer.set_rate(1000.0)  # a faster rate drains what waits at once
        await until(lambda: len(pacer) == 0, timeout=1.0)
        pacer.set_rate(1.0)
        for n in range(5, 8):
            pacer.publish(n)
        pacer.set_rate(0.0)  # unpaced again: nothing may stay queued behind it
        assert sink.messages == ['unpaced', *range(8)] and len(pacer) == 0
        await asyncio.sleep(0.05)
        assert sink.messages == ['unpaced', *range(8)] and sink.dropped == 0
    asyncio.run(main())


def test_an_overflow_is_reported_when_it_starts_and_when_it_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paced_publisher, 'OVERFLOW_HOLD_S', 0.3)

    async def main() -> None:
        sink = Sink(asyncio.get_running_loop())
        states: list[bool] = []
        pacer = PacedPublisher(sink.publish, 20.0, 2, sink.loop, sink.drop,
                               overflowing=states.append)
        start = sink.loop.time()
        while sink.loop.time() - start < 0.6:  # 100 msg/s into 20 msg/s: a drop each time
            pacer.publish(0)
            await asyncio.sleep(0.01)
        assert sink.dropped > 20 and states == [True] and pacer.overflowing
        await until(lambda: states == [True, False], timeout=2.0)
        assert not pacer.overflowing
        for _ in range(5):  # a new overflow is a new report
            pacer.publish(1)
        assert states == [True, False, True]
        pacer.clear()  # deactivate: the condition ends with the link
        assert states == [True, False, True, False] and not pacer.overflowing
    asyncio.run(main())
