"""
Keep one bridge's failure to that bridge when several share a process (the container).

Two places can carry a bug of one node into all of them: the executor, out of whose
``spin_once`` a callback's exception would end the spin of every node, and the asyncio loop,
whose callbacks and tasks every node shares. Both report the failure here in one line, cut to
length, naming the node where it can be told, and go on.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any, Sequence

from rclpy.executors import (ConditionReachedException, ShutdownException,
                             SingleThreadedExecutor, TimeoutException)
from rclpy.impl.rcutils_logger import RcutilsLogger
import rclpy.logging
from rclpy.node import Node
from robot_bridges.protocols.text import cut
from robot_bridges.runtime.loop_thread import LoopThread
from robot_bridges.runtime.redact import describe_exception

#: The logger of what cannot be told to belong to one node.
LOGGER_NAME = 'robot_bridges_container'
# How a contained failure's log line ends (the process goes on, so only its log says so):
# for whoever watches a container's output (the soak does).
SPINNING_GOES_ON = 'spinning goes on'
LOOP_GOES_ON = 'the loop goes on'
NOT_STARTED = 'not started, the other bridges run'
LEFT_UNCONFIGURED = 'left unconfigured'
CONTAINED_FAILURES = (SPINNING_GOES_ON, LOOP_GOES_ON, NOT_STARTED, LEFT_UNCONFIGURED)


class ContainingExecutor(SingleThreadedExecutor):
    """A SingleThreadedExecutor whose spin survives an exception escaping a callback."""

    def spin_once(self, timeout_sec: float | None = None) -> None:
        """Run one ready callback; an exception it raises is logged, not raised."""
        try:
            handler, _, node = self.wait_for_ready_callbacks(timeout_sec=timeout_sec)
        except (ShutdownException, TimeoutException, ConditionReachedException):
            return
        handler()
        exception = handler.exception()
        if exception is not None:
            owner = node if node is not None else owner_of(exception, self.get_nodes())
            logger_of(owner).error(failure_line('a callback', exception, SPINNING_GOES_ON))


def report_loop_errors(loop: LoopThread, nodes: Sequence[Node]) -> None:
    """
    Log what fails on the shared loop like the executor's failures; the loop goes on.

    asyncio's default handler would print a traceback through the ``logging`` module, which
    names no node; ``nodes`` is read at each failure, so it may still grow.
    """
    def handler(_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exception = context.get('exception')
        if exception is None:
            logger_of(None).error(cut(f'asyncio: {context.get("message", context)}'))
            return
        what = 'a task' if 'task' in context or 'future' in context else 'a loop callback'
        logger_of(owner_of(exception, nodes)).error(
            failure_line(what, exception, LOOP_GOES_ON))
    loop.call_soon(loop.loop.set_exception_handler, handler)


def owner_of(exception: BaseException, nodes: Sequence[Node]) -> Node | None:
    """
    Return the node whose method raised ``exception`` (innermost first), if any did.

    A callback is a node's method or a closure made in one, so the frame that raised, or
    one around it, has the node as ``self``.
    """
    tb = exception.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        candidate = frame.f_locals.get('self')
        if any(candidate is node for node in nodes):
            return candidate  # type: ignore[no-any-return]
    return None


def logger_of(node: Node | None) -> RcutilsLogger:
    """Return the node's logger (its line names it), or the container's."""
    return node.get_logger() if node is not None else rclpy.logging.get_logger(LOGGER_NAME)


def failure_line(what: str, exception: BaseException, then: str) -> str:
    """Return one line: what raised, the exception and where, and what happens next."""
    where = ''
    frames = traceback.extract_tb(exception.__traceback__)
    if frames:
        last = frames[-1]
        where = f' (at {last.filename.rpartition("/")[2]}:{last.lineno} in {last.name})'
    return cut(f'{what} raised {describe_exception(exception)}{where}; {then}')
