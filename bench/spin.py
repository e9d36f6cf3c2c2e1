"""The main loop of a benchmark helper process: one node, spun until SIGINT or SIGTERM."""

from __future__ import annotations

from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


def spin_until_stopped(node: Node, before_exit: Callable[[], None] = lambda: None) -> int:
    """
    Spin ``node`` until the process is told to stop; return the exit code (0).

    ``before_exit`` runs after the spin whatever ended it (a final report), then the node is
    destroyed and rclpy shut down.
    """
    try:
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        before_exit()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
