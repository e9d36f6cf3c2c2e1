"""LoopSubscription: the executor never runs it; the loop takes its messages, in order."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Iterator

import pytest
import rclpy
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from robot_bridges.node.loop_subscription import LoopSubscription
from robot_bridges.node.qos import reliable
from robot_bridges.runtime.loop_thread import LoopThread
from ros_helpers import wait_for
from std_msgs.msg import Int32

TOPIC = '/loop_subscription_test'


class Spinning:
    """A node spun by ``executor`` in a thread, with a publisher and a LoopSubscription."""

    def __init__(self, executor_type: Any, loop: LoopThread, limit: int = 100) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = Node('loop_subscription_test', context=self.context)
        self.taken: list[tuple[int, bool]] = []  # (data, taken on the loop thread)
        self.subscription = LoopSubscription(
            self.node, loop, Int32, TOPIC,
            lambda msg: self.taken.append((msg.data, loop.in_loop_thread())),
            reliable(100), limit=limit)
        self.publisher = self.node.create_publisher(Int32, TOPIC, reliable(100))
        self.executor = executor_type(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: B902 - context shut down at teardown
            pass

    def publish(self, *values: int) -> None:
        for value in values:
            self.publisher.publish(Int32(data=value))

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self.thread.join(5)


@pytest.fixture(scope='module')
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


def take_on_loop(loop: LoopThread, subscription: LoopSubscription) -> int:
    async def take() -> int:
        return subscription.take()
    return loop.submit(take()).result(10)


def take_until(loop: LoopThread, spinning: Spinning, count: int) -> None:
    wait_for(lambda: take_on_loop(loop, spinning.subscription) >= 0 and
             len(spinning.taken) >= count, 15, f'{count} messages taken')


@pytest.mark.parametrize('executor_type', [SingleThreadedExecutor, MultiThreadedExecutor])
def test_the_executor_leaves_the_messages_to_the_loop(loop: LoopThread,
                                                      executor_type: Any) -> None:
    spinning = Spinning(executor_type, loop)
    # An ordinary subscription of the same node, which the executor runs.
    seen: list[int] = []
    spinning.node.create_subscription(Int32, TOPIC, lambda msg: seen.append(msg.data),
                                      reliable(100))
    try:
        wait_for(lambda: spinning.publisher.get_subscription_count() >= 2, 15, 'matched')
        spinning.publish(1, 2, 3)
        wait_for(lambda: len(seen) == 3, 15, 'the executor to run the ordinary subscription')
        time.sleep(0.3)  # a grace period for a callback that would come late
        loop.submit(asyncio.sleep(0)).result(10)  # and what it handed to the loop has run
        assert spinning.taken == []  # the executor did not run the loop's subscription
        take_until(loop, spinning, 3)
        assert spinning.taken == [(1, True), (2, True), (3, True)]  # in order, on the loop
        assert take_on_loop(loop, spinning.subscription) == 0  # nothing left
    finally:
        spinning.close()


def test_one_take_handles_at_most_the_limit(loop: LoopThread) -> None:
    spinning = Spinning(SingleThreadedExecutor, loop, limit=2)
    # An ordinary subscription of the same node: when it has all five, so has the reader.
    seen: list[int] = []
    spinning.node.create_subscription(Int32, TOPIC, lambda msg: seen.append(msg.data),
                                      reliable(100))
    try:
        wait_for(lambda: spinning.publisher.get_subscription_count() >= 2, 15, 'matched')
        spinning.publish(10, 11, 12, 13, 14)
        wait_for(lambda: len(seen) == 5, 15, 'the five messages delivered')
        counts = []
        while len(spinning.taken) < 5 and len(counts) < 1000:
            counts.append(take_on_loop(loop, spinning.subscription))
        assert [data for data, _ in spinning.taken] == [10, 11, 12, 13, 14]
        assert max(counts) == 2, counts
    finally:
        spinning.close()


def test_a_take_after_the_subscription_is_destroyed_takes_nothing(loop: LoopThread) -> None:
    spinning = Spinning(SingleThreadedExecutor, loop)
    try:
        spinning.node.destroy_subscription(spinning.subscription.subscription)
        assert take_on_loop(loop, spinning.subscription) == 0
    finally:
        spinning.close()


def test_a_limit_below_one_is_refused(loop: LoopThread) -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node('loop_subscription_limit', context=context)
    try:
        with pytest.raises(ValueError, match='limit must be at least 1'):
            LoopSubscription(node, loop, Int32, TOPIC, print, reliable(1), limit=0)
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
