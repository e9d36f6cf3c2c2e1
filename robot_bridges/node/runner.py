"""Run one bridge node: rclpy + the asyncio loop thread, with a clean exit on Ctrl-C/SIGTERM."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Callable, Sequence

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from robot_bridges.node.bridge_node import BridgeNode
from robot_bridges.node.params import ParameterError
from robot_bridges.protocols.text import cut
from robot_bridges.runtime.loop_thread import LoopThread

# Exit codes: a bad parameter value, a configure (or activate) that failed under autostart.
EXIT_BAD_PARAMETER = 2
EXIT_CONFIGURE_FAILED = 1
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_bridge(factory: Callable[[LoopThread], BridgeNode],
               args: Sequence[str] | None = None) -> int:
    """Spin the node made by ``factory`` until shutdown; returns the process exit code."""
    cleaning_up = interrupt_once()
    loop: LoopThread | None = None
    node: BridgeNode | None = None
    code = 0
    try:
        rclpy.init(args=args)
        loop = LoopThread()
        node = factory(loop)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        if not node.autostart():
            code = EXIT_CONFIGURE_FAILED  # the reason was logged by the transition
        else:
            executor.spin()
    except (ParameterError, ParameterException) as exc:
        # One line naming the parameter, the value and the rule; no traceback.
        rclpy.logging.get_logger('robot_bridges').error(cut(str(exc)))
        code = EXIT_BAD_PARAMETER
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        cleaning_up()  # bounded: no signal interrupts it any more
        # Link first (its callbacks publish), then the loop, then the node.
        if node is not None:
            node.stop_link()
        if loop is not None:
            loop.stop(timeout=0.5)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()  # puts back the handlers rclpy.init chained to
        ignore_signals()
    return code


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
