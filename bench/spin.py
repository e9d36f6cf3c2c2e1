"""
The main loop of a benchmark helper process: one node, spun until SIGINT or SIGTERM.

rclpy's own signal handler shuts the context down before the process gets control back, so
a helper could not flush what it published or read what waits for it at exit. Helpers call
``init()`` (rclpy without its signal handlers) and ``spin_until_stopped()`` owns the signals.
"""

from __future__ import annotations

import signal
import threading
from typing import Callable

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

# How long the spin can go without looking at the stop flag.
POLL_S = 0.1


def init() -> None:
    """Initialise rclpy without its signal handlers (``spin_until_stopped`` handles them)."""
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)


def spin_until_stopped(node: Node, before_exit: Callable[[], None] = lambda: None) -> int:
    """
    Spin ``node`` until SIGINT or SIGTERM; return the exit code (0).

    ``before_exit`` runs after the spin, with the context still valid (a final report, a
    flush of what was published), then the node is destroyed and rclpy shut down.
    """
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    executor = SingleThreadedExecutor()
    try:
        executor.add_node(node)
        while not stop.is_set():
            executor.spin_once(timeout_sec=POLL_S)
    finally:
        before_exit()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
