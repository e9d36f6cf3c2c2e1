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
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rich.console import Console
from robot_bridges.tools.bridge_view import HealthBoard
from robot_bridges.tools.lean_node import LEAN
from robot_bridges.tools.live_view import LiveView


class StatusNode(Node):
    """Feeds every /diagnostics status into a :class:`HealthBoard`."""

    def __init__(self, board: HealthBoard) -> None:
        super().__init__('robot_bridges_status', **LEAN)
        self._board = board
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 100)

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
            if console.is_terminal:
                console.print(board.render())
            else:
                print('\n'.join(board.lines()) or 'no bridge diagnostics seen', flush=True)
            return 0 if board.all_ok() else (1 if board.bridges else 2)
        with LiveView(board, console) as view:
            while rclpy.ok():
                executor.spin_once(timeout_sec=0.25)
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
