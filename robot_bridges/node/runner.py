"""Run one bridge node: rclpy + the asyncio loop thread, with a clean exit on Ctrl-C/SIGTERM."""

from __future__ import annotations

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


def run_bridge(factory: Callable[[LoopThread], BridgeNode],
               args: Sequence[str] | None = None) -> int:
    """Spin the node made by ``factory`` until shutdown; returns the process exit code."""
    rclpy.init(args=args)
    loop = LoopThread()
    node: BridgeNode | None = None
    code = 0
    try:
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
        # Link first (its callbacks publish), then the loop, then the node.
        if node is not None:
            node.stop_link()
        loop.stop(timeout=0.5)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code
