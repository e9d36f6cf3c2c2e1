"""
The main job: every bridge against the simulator of its service, traffic in the terminal.

Starts the simulators, and the bridge nodes in one robot_bridges_container
(``--no-single-process``: a process each, as a launch file of separate nodes), then, in this
process, shows the ROS traffic and drives the bridges' inputs now and then (chat outbox, mic
recording and compile_results, Reachy goals, DFX chunks), so that both directions are
visible. On a terminal it is a live view (one panel per bridge, from /diagnostics, with its
latest message); otherwise (CI, pipes) one line per event (topic_echo). Ctrl-C stops
everything within 2 s; ``--duration`` stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import sys
import threading
import time
from typing import Callable, Sequence

from ament_index_python.packages import get_package_share_directory
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rich.console import Console
from robot_bridges.dds_profile import with_profile
from robot_bridges.msg import RobotChatMessage
from robot_bridges.node.qos import reliable
from robot_bridges.srv import CompileMicResults
from robot_bridges.tools.bridge_view import HealthBoard
from robot_bridges.tools.children import Child, stop_children
from robot_bridges.tools.dfx_driver import DfxDemoDriver
from robot_bridges.tools.lean_node import LEAN
from robot_bridges.tools.live_view import LiveView
from robot_bridges.tools.main_job_processes import start_processes
from robot_bridges.tools.port_plan import PortPlan, PortPlanError, taken_ports
from robot_bridges.tools.reachy_driver import ReachyDriver
from robot_bridges.tools.status import StatusNode
from robot_bridges.tools.topic_echo import TopicEcho
from std_srvs.srv import SetBool


class DemoDriver(Node):
    """Speaks on the chat outbox and records/compiles mic directions, on timers."""

    def __init__(self) -> None:
        super().__init__('demo_driver', **LEAN)
        self._outbox = self.create_publisher(RobotChatMessage, '/robot_chat/outbox',
                                             reliable(10))
        self._recording = self.create_client(SetBool, '/victor/set_recording')
        self._compile = self.create_client(CompileMicResults, '/victor/compile_results')
        self._said = 0
        self.create_timer(4.0, self._say)
        self.create_timer(5.0, self._record_then_compile)
        self._recording_on = False

    def _say(self) -> None:
        self._said += 1
        text = json.dumps({'message': f'hello from ROS #{self._said}', 'user': 'demo_driver'})
        self._outbox.publish(RobotChatMessage(type='message', json=text))
        print(f'{"demo":>17} | published on /robot_chat/outbox: {text}', flush=True)

    def _record_then_compile(self) -> None:
        if not self._recording.service_is_ready() or not self._compile.service_is_ready():
            return
        if not self._recording_on:
            self._recording.call_async(SetBool.Request(data=True))
            self._recording_on = True
            print(f'{"demo":>17} | /victor/set_recording true', flush=True)
            return
        self._recording_on = False
        self._recording.call_async(SetBool.Request(data=False))
        future = self._compile.call_async(CompileMicResults.Request())
        future.add_done_callback(lambda f: print(
            f'{"demo":>17} | /victor/compile_results -> {f.result()}', flush=True))


# Whose panel a topic's latest line belongs to in the live view (longest prefix first).
TOPIC_OWNERS = (
    ('/victor/webviz/', '/victor/webviz_bridge'),
    ('/victor/', '/victor/victor_mic_bridge'),
    ('/robot_chat/', '/robot_chat/robot_chat_bridge'),
    ('/dfx/', '/dfx/dfx_bridge'),
    ('/letsrobot/', '/letsrobot/letsrobot_bridge'),
    ('/reachy/', '/reachy/reachy_bridge'),
)


def printed(line: str) -> None:
    """Print a line at once (above the live view, when there is one)."""
    print(line, flush=True)


def labelled(label: str) -> Callable[[str], None]:
    """Return a writer that prints lines with a label, as the line output does."""
    return lambda line: printed(f'{label:>17} | {line}')


def to_panel(board: HealthBoard) -> Callable[[str], None]:
    """Return a topic_echo writer that puts each line into its bridge's panel."""
    def write(line: str) -> None:
        topic = line[1:line.find(']')]
        if topic.endswith('/connected'):
            return  # the panel shows it already
        for prefix, owner in TOPIC_OWNERS:
            if topic.startswith(prefix):
                board.set_latest(owner, line)
                return
    return write


def drive_in_background(driver: ReachyDriver) -> Callable[[], None]:
    """Run ``driver.drive`` on a daemon thread; return what stops it (and waits for it)."""
    stop = threading.Event()
    thread = threading.Thread(target=driver.drive, args=(stop,), name=driver.get_name(),
                              daemon=True)
    thread.start()

    def stop_driving() -> None:
        stop.set()
        thread.join(timeout=2.0)
        if not thread.is_alive():  # else it may still use the node: the exit takes both
            driver.destroy_node()
    return stop_driving


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the README's main job."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--duration', type=float, default=0.0,
                        help='stop after this many seconds (0: run until Ctrl-C)')
    parser.add_argument('--max-rate', type=float, default=1.0,
                        help='printed lines per second per topic')
    view = parser.add_mutually_exclusive_group()
    view.add_argument('--live', action='store_true', default=None,
                      help='the live view even when stdout is not a terminal')
    view.add_argument('--lines', dest='live', action='store_false',
                      help='line output even on a terminal')
    parser.add_argument('--no-dds-profile', dest='dds_profile', action='store_false',
                        help='start the processes without the shipped Fast DDS profile '
                             '(config/dds/; the launch files take dds_profile:=false)')
    parser.add_argument('--single-process', action=argparse.BooleanOptionalAction,
                        default=True, help='every bridge a node of one robot_bridges_container '
                                           '(--no-single-process: a process per bridge)')
    parser.add_argument('--ports', choices=('fixed', 'auto'), default='fixed',
                        help="fixed: the README's ports, checked before anything starts; "
                             'auto: free ports, every simulator picking its own')
    args = parser.parse_args(argv)
    live = sys.stdout.isatty() if args.live is None else args.live
    ports = PortPlan(auto=args.ports == 'auto')
    taken = [] if ports.auto else taken_ports()
    if taken:
        for line in taken:
            print(f'main_job: {line}', file=sys.stderr)
        print('main_job: nothing started; free the port, or run with --ports auto',
              file=sys.stderr)
        return 2

    # The DFX simulator and bridge read the same token from the environment (never a
    # command line); a fresh one per run unless the caller set one.
    os.environ.setdefault('DFX_TOKEN', f'demo-{secrets.token_hex(12)}')
    # The processes run with the shipped middleware profile, as the launch files start them.
    child_env = (with_profile(os.environ, get_package_share_directory('robot_bridges'))
                 if args.dds_profile else dict(os.environ))
    # A closed terminal (SIGHUP) stops everything cleanly, like Ctrl-C.
    signal.signal(signal.SIGHUP, signal.default_int_handler)
    board = HealthBoard()
    children: list[Child] = []
    rclpy.init(args=[])
    # One thread: no callback here blocks (service calls are asynchronous).
    executor = SingleThreadedExecutor()
    stop_at = time.monotonic() + args.duration if args.duration > 0 else None
    try:
        with contextlib.ExitStack() as stack:
            refresh: Callable[[], object] = lambda: None  # noqa: E731
            if live:
                live_view = stack.enter_context(LiveView(board, Console(force_terminal=True)))
                status = StatusNode(board)
                executor.add_node(status)
                refresh = lambda: (status.take(), live_view.tick())  # noqa: E731
            start_processes(ports, child_env, children, printed, args.single_process)
            echo = to_panel(board) if live else labelled('ros')
            reachy = ((lambda line: board.set_latest('/reachy/reachy_bridge', line)) if live
                      else labelled('reachy'))
            # The live view has /diagnostics from its StatusNode: not decoded twice.
            executor.add_node(TopicEcho(['/robot_chat', '/victor', '/dfx', '/letsrobot'],
                                        args.max_rate, echo, diagnostics=not live))
            executor.add_node(DemoDriver())
            # Reachy's topics are printed by its driver (goals against present positions).
            # It commands at 20 Hz from a thread of its own, with no executor: no wake-up
            # rebuilds a wait set (the printer's forty-odd subscriptions, or its own).
            stack.callback(drive_in_background(ReachyDriver(reachy)))
            executor.add_node(DfxDemoDriver())
            next_refresh = 0.0
            while rclpy.ok() and (stop_at is None or time.monotonic() < stop_at):
                executor.spin_once(timeout_sec=0.25)
                if time.monotonic() < next_refresh:
                    continue  # a message or timer, not yet time to look around
                refresh()
                next_refresh = time.monotonic() + 0.25
                dead = [c.label for c in children if not c.running]
                if dead:
                    print(f'main_job: stopping, process exited: {", ".join(dead)}',
                          file=sys.stderr)
                    return 1
    except PortPlanError as error:
        print(f'main_job: stopping: {error}', file=sys.stderr)
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        stop_children(children)
        executor.shutdown(timeout_sec=0.2)
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
