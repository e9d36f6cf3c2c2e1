"""Run bridge nodes: rclpy + one asyncio loop thread, with a clean exit on Ctrl-C/SIGTERM."""

from __future__ import annotations

import faulthandler
import signal
import sys
from types import FrameType
from typing import Callable, Sequence

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.rcutils_logger import RcutilsLogger
from robot_bridges.node.bridge_node import BridgeNode, stop_links
from robot_bridges.node.containment import (ContainingExecutor, failure_line,
                                            LEFT_UNCONFIGURED, NOT_STARTED,
                                            report_loop_errors)
from robot_bridges.node.params import ParameterError
from robot_bridges.protocols.text import cut
from robot_bridges.runtime.loop_thread import LoopThread

# Exit codes: a bad parameter value, a configure (or activate) that failed under autostart.
EXIT_BAD_PARAMETER = 2
EXIT_CONFIGURE_FAILED = 1
SIGNALS = (signal.SIGINT, signal.SIGTERM)
# The clean-up's own bound: past it, every thread's stack goes to stderr and the process
# ends with EXIT_STUCK. Each step is bounded (links 1.2 s, loop 0.5 s), so this only fires
# on what is not (a C call that never returns): a stuck stop must neither hang a robot's
# supervisor nor pass unexplained. Below launch's 5 s before its SIGTERM (which the clean-up
# ignores: only the first signal counts).
CLEANUP_BOUND_S = 4.0
EXIT_STUCK = 1
NodeFactory = Callable[[LoopThread], BridgeNode]


def run_bridge(factory: NodeFactory, args: Sequence[str] | None = None) -> int:
    """Spin the node made by ``factory`` until shutdown; returns the process exit code."""
    return run_bridges([('robot_bridges', factory)], args)


def run_bridges(factories: Sequence[tuple[str, NodeFactory]],
                args: Sequence[str] | None = None, *, contained: bool = False) -> int:
    """
    Spin the nodes made by ``factories`` on one executor and one loop until shutdown.

    Each factory comes with the name of the logger that reports it could not be made. A node
    whose parameters are invalid is not made (one line naming the parameter, the value and
    the rule; no traceback), one whose configure failed under autostart stays unconfigured;
    the others run. ``contained`` (the container): any exception of a factory is reported
    likewise, and a callback's exception, on the executor or the loop, is logged and the
    spin goes on, where one bridge alone ends with a traceback. Returns 0 unless every node
    failed: then EXIT_CONFIGURE_FAILED if a configure failed, else EXIT_BAD_PARAMETER.
    """
    cleaning_up = interrupt_once()
    loop: LoopThread | None = None
    nodes: list[BridgeNode] = []
    failures: list[int] = []
    try:
        rclpy.init(args=args)
        loop = LoopThread()
        executor = ContainingExecutor() if contained else SingleThreadedExecutor()
        if contained:
            report_loop_errors(loop, nodes)
        for logger, factory in factories:
            node = _make(factory, loop, rclpy.logging.get_logger(logger), contained)
            if node is None:
                failures.append(EXIT_BAD_PARAMETER)
                continue
            nodes.append(node)
            executor.add_node(node)
            if not node.autostart():  # the reason was logged by the transition
                failures.append(EXIT_CONFIGURE_FAILED)
                if contained:
                    node.get_logger().error(f'{LEFT_UNCONFIGURED} (its lifecycle services '
                                            'can retry); the other bridges run')
        intervals = [n.GIL_SWITCH_INTERVAL_S for n in nodes if n.GIL_SWITCH_INTERVAL_S]
        if intervals:
            sys.setswitchinterval(min(intervals))
        if len(failures) < len(factories):
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:
        # The signal's KeyboardInterrupt can arrive while pybind11 runs Python code inside an
        # rclpy call (a take converting its arguments), which turns it into "Unable to
        # convert call argument ...": a stop like any other once the signal came.
        if rclpy.ok():
            raise
    finally:
        cleaning_up()  # bounded: no signal interrupts it any more
        faulthandler.dump_traceback_later(CLEANUP_BOUND_S, exit=True)  # exits with 1
        # Links first (their callbacks publish), then the loop, then the nodes.
        stop_links(nodes)
        if loop is not None:
            loop.stop(timeout=0.5)
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()  # puts back the handlers rclpy.init chained to
        ignore_signals()
    if len(failures) < len(factories):
        return 0
    return EXIT_CONFIGURE_FAILED if EXIT_CONFIGURE_FAILED in failures else EXIT_BAD_PARAMETER


def _make(factory: NodeFactory, loop: LoopThread, logger: RcutilsLogger,
          contained: bool) -> BridgeNode | None:
    """Return the node, or None when it could not be made (logged)."""
    try:
        return factory(loop)
    except (ParameterError, ParameterException) as exc:
        logger.error(cut(str(exc) + (f'; {NOT_STARTED}' if contained else '')))
    except Exception as exc:  # noqa: B902 - contained: one bridge's bug, the others run
        if not contained:
            raise
        logger.error(failure_line('making the node', exc, NOT_STARTED))
    return None


def interrupt_once() -> Callable[[], None]:
    """
    Make the first SIGINT or SIGTERM interrupt the main thread, and any later one nothing.

    A stop is often signalled twice: a non-interactive ``ros2 launch`` forwards its SIGINT
    and a supervisor signals the whole process group, or a user presses Ctrl-C again. The
    first ends the spin (rclpy's own handler, installed by ``rclpy.init`` in front of this
    one, also shuts the context down); a later one must not raise KeyboardInterrupt into
    the bounded clean-up that follows (it ends within 2 s), nor kill the process. Call
    before ``rclpy.init``, which chains to these handlers; call the function returned when
    the clean-up starts, from then on no signal interrupts.
    """
    interrupted = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise KeyboardInterrupt

    def no_more() -> None:
        nonlocal interrupted
        interrupted = True
    for sig in SIGNALS:
        signal.signal(sig, handler)
    return no_more


def ignore_signals() -> None:
    """
    Ignore SIGINT and SIGTERM for the rest of the process (once rclpy's handlers are gone).

    Python's finalization resets every signal with a Python handler to its default action,
    so a signal arriving while the interpreter exits would still kill it (exit code -2);
    SIG_IGN is left alone.
    """
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
