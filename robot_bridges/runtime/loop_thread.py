"""
The one place where asyncio and rclpy meet.

An asyncio event loop runs in its own daemon thread next to the rclpy executor.

* rclpy -> asyncio: :meth:`LoopThread.call_soon` (``loop.call_soon_threadsafe``) for plain
  callables and :meth:`LoopThread.submit` (``asyncio.run_coroutine_threadsafe``) for
  coroutines. Both return at once; an rclpy callback never awaits an asyncio object.
* asyncio -> rclpy: code on the loop publishes with ``Publisher.publish``, which rcl documents
  as thread-safe; that keeps the hot path (frame -> message -> publish) free of a thread hop.
  Where a loop paced by its peer needs a ROS message at one moment (Reachy's lockstep),
  :class:`robot_bridges.node.loop_subscription.LoopSubscription` lets the loop take it from
  a subscription the executor never runs (rcl take, like publish, from the one thread that
  uses that subscription).
  Anything else that must run on the executor goes through :meth:`LoopThread.to_executor`
  (``Executor.create_task``); an rclpy Future that a coroutine callback awaits is completed
  with :meth:`LoopThread.complete`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Callable, Coroutine, TypeVar

from rclpy.executors import Executor
from rclpy.task import Future

T = TypeVar('T')


class LoopThread:
    """An asyncio event loop in a daemon thread, with thread-safe hand-offs both ways."""

    def __init__(self, name: str = 'robot_bridges.asyncio') -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """Return the event loop; use it only from coroutines and callbacks running on it."""
        return self._loop

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the loop's thread."""
        return threading.current_thread() is self._thread

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the loop, from any thread. Never blocks."""
        self._loop.call_soon_threadsafe(callback, *args)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the loop from another thread; returns its future."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    @staticmethod
    def to_executor(executor: Executor, callback: Callable[[], Any]) -> None:
        """Run ``callback`` on the rclpy executor's thread (from the loop or anywhere)."""
        executor.create_task(callback)

    @staticmethod
    def complete(executor: Executor, future: Future[T], value: T) -> None:
        """
        Set an rclpy Future's result from the loop and wake the executor.

        A coroutine callback awaiting ``future`` (an ``async def`` service callback) then
        resumes on the executor at once: the executor re-runs waiting tasks only when
        something wakes it, and a result set by a task it runs itself wakes nothing.
        ``Future.set_result`` holds the future's lock; the wake is a guard condition trigger.
        """
        future.set_result(value)
        executor.wake()

    def stop(self, timeout: float = 1.0) -> None:
        """Cancel whatever still runs on the loop, stop it and join its thread."""
        if not self._thread.is_alive():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=timeout)

        try:
            self.submit(cancel_all()).result(timeout + 0.5)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()
