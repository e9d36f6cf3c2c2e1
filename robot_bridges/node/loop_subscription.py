"""
A subscription whose messages the asyncio loop takes itself, at the moment it needs them.

Where the loop is paced by its peer (Reachy's lockstep sync: one goal frame per reply), a
command matters only when the next frame is built. An executor callback reaches the loop
after two thread hops (the executor's wake-up, then ``call_soon_threadsafe``), each a wait
for the GIL while the loop thread is busy: milliseconds on a loaded machine. Here the
executor never runs the subscription (its callback group refuses every execution, so the
executor does not even wait on it), and the loop calls :meth:`LoopSubscription.take` right
before it builds the frame: a message goes from the DDS reader's history straight to the
loop, without a thread hop.

An executor that ignores callback groups (a future one) would call the callback on its own
thread instead: the message is then handed to the loop with ``call_soon`` (the usual path),
so it is used either way.
"""

from __future__ import annotations

from typing import Any, Callable

from rclpy.callback_groups import CallbackGroup
from rclpy.exceptions import InvalidHandle
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription
from robot_bridges.runtime.loop_thread import LoopThread


class LoopTaken(CallbackGroup):
    """A callback group the executor never runs: its entities are taken on the loop."""

    def can_execute(self, entity: Any) -> bool:
        """Return False: the executor leaves the entity alone (and does not wait on it)."""
        return False

    def beginning_execution(self, entity: Any) -> bool:
        """Return False: no execution ever begins."""
        return False

    def ending_execution(self, entity: Any) -> None:
        """Nothing began, nothing ends."""


def take_waiting(subscription: Subscription, callback: Callable[[Any], None],
                 limit: int) -> int:
    """
    Hand up to ``limit`` messages waiting in ``subscription``'s reader to ``callback``.

    Oldest first, on the calling thread; return how many. A subscription destroyed meanwhile
    has nothing more to take.
    """
    taken = 0
    try:
        handle = subscription.handle
        with handle:  # kept alive (not destroyed) while in use
            msg_type, raw = subscription.msg_type, subscription.raw
            while taken < limit:
                message = handle.take_message(msg_type, raw)
                if message is None:
                    break
                taken += 1
                callback(message[0])
    except InvalidHandle:
        pass  # destroyed meanwhile (teardown): nothing more to take
    return taken


class LoopSubscription:
    """
    A subscription of ``node`` whose messages :meth:`take` hands to ``callback`` on the loop.

    ``callback(msg)`` runs on the loop thread, oldest message first; ``limit`` bounds the
    messages one :meth:`take` handles (the rest wait for the next). The rclpy subscription
    is :attr:`subscription`: destroy it with the node's ``destroy_subscription``.
    """

    def __init__(self, node: Node, loop: LoopThread, msg_type: Any, topic: str,
                 callback: Callable[[Any], None], qos: QoSProfile, limit: int) -> None:
        """Create the subscription; nothing is taken until :meth:`take` is called."""
        if limit < 1:
            raise ValueError(f'limit must be at least 1, got {limit}')
        self._loop = loop
        self._callback = callback
        self._limit = limit
        self.subscription = node.create_subscription(
            msg_type, topic, self._from_executor, qos, callback_group=LoopTaken())

    def take(self) -> int:
        """Hand every waiting message (up to the limit) to the callback; return how many."""
        return take_waiting(self.subscription, self._callback, self._limit)

    def _from_executor(self, msg: Any) -> None:
        # Only an executor that ignores callback groups gets here.
        self._loop.call_soon(self._callback, msg)
