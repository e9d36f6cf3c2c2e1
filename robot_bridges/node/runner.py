"""Run one bridge node: rclpy + the asyncio loop thread, with a clean exit on Ctrl-C/SIGTERM."""

from __future__ import annotations

from typing import Callable, Sequence

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from robot_bridges.node.bridge_node import BridgeNode
from robot_bridges.runtime.loop_thread import LoopThread


def run_bridge(factory: Callable[[LoopThread], BridgeNode],
               args: Sequence[str] | None = None) -> int:
    """Spin the node made by ``factory`` until shutdown; returns the process exit code."""
    rclpy.init(args=args)
    loop = LoopThread()
    node: BridgeNode | None = None
    try:
        node = factory(loop)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        node.autostart()
        executor.spin()
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
    return 0
