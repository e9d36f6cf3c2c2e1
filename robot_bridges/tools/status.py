"""
Executable status: the health of every running bridge, from /diagnostics alone.

A terminal stand-in for rqt_robot_monitor: one panel per bridge (connected, messages in/out
per second, decode errors, drops, reconnects, last error), refreshed a few times per second.
``--once`` collects for ``--wait`` seconds, prints one snapshot and exits 1 if any bridge is
not OK (2 if none was seen), for scripts and health checks.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rich.console import Console
from robot_bridges.node.loop_subscription import LoopTaken, take_waiting
from robot_bridges.tools.bridge_view import HealthBoard
from robot_bridges.tools.lean_node import LEAN
from robot_bridges.tools.live_view import LiveView

# Statuses kept between two takes: a bridge reports once a second, a take is every 0.25 s.
HISTORY = 100


class StatusNode(Node):
    """
    Feeds every /diagnostics status into a :class:`HealthBoard`, when :meth:`take` is called.

    The statuses wait in the reader (up to HISTORY of them) and never wake an executor: the
    view's loop takes them right before it draws, so a bridge's 1 Hz report costs no wake-up
    (no rebuild of the executor's wait set) of its own.
    """

    def __init__(self, board: HealthBoard) -> None:
        super().__init__('robot_bridges_status', **LEAN)
        self._board = board
        # No QoS event handlers either: they would put the reader back in the wait set.
        self._subscription = self.create_subscription(
            DiagnosticArray, '/diagnostics', self._on_diagnostics, HISTORY,
            callback_group=LoopTaken(),
            event_callbacks=SubscriptionEventCallbacks(use_default_callbacks=False))

    def take(self) -> int:
        """Feed the statuses received since the last call to the board; return how many."""
        return take_waiting(self._subscription, self._on_diagnostics, HISTORY)

    def _on_diagnostics(self, array: DiagnosticArray) -> None:
        for status in array.status:
            self._board.update(status)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges status``."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--once', action='store_true',
                        help='print one snapshot and exit: 0 all OK, 1 not OK, 2 none seen')
    parser.add_argument('--wait', type=float, default=3.0,
                        help='seconds to collect before the snapshot of --once (default 3)')
    args = parser.parse_args(rclpy.utilities.remove_ros_args(argv or sys.argv)[1:])

    rclpy.init(args=argv)
    board = HealthBoard()
    node = StatusNode(board)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    console = Console()
    try:
        if args.once:
            deadline = time.monotonic() + args.wait
            while time.monotonic() < deadline:
                executor.spin_once(timeout_sec=0.1)
                node.take()
            if console.is_terminal:
                console.print(board.render())
            else:
                print('\n'.join(board.lines()) or 'no bridge diagnostics seen', flush=True)
            return 0 if board.all_ok() else (1 if board.bridges else 2)
        with LiveView(board, console) as view:
            while rclpy.ok():
                executor.spin_once(timeout_sec=0.25)
                node.take()
                view.tick()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
