"""
The main job: every bridge against the simulator of its service, traffic in the terminal.

Starts the simulators and bridge nodes as separate processes (as a launch file would on a
ROS installation), then, in this process, prints the ROS traffic (topic_echo) and drives
the bridges' inputs now and then (outbox messages, mic recording and compile_results), so
that both directions are visible. Ctrl-C stops everything; ``--duration`` stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import secrets
import signal
import subprocess
import sys
import threading
import time
from typing import Sequence

from ament_index_python.packages import get_package_prefix
import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from robot_bridges.msg import RobotChatMessage
from robot_bridges.node.qos import reliable
from robot_bridges.srv import CompileMicResults
from robot_bridges.tools.dfx_driver import DfxDemoDriver
from robot_bridges.tools.reachy_driver import ReachyDriver
from robot_bridges.tools.topic_echo import TopicEcho
from std_srvs.srv import SetBool

# (label, executable, arguments): the order they start in; they stop in reverse.
PROCESSES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ('chat-server', 'robot_chat_server', ('--port', '5001')),
    ('chat-bridge', 'robot_chat_bridge', ()),
    ('chat-peer', 'robot_chat_peer', ('--period', '3')),
    ('victor-anim-sim', 'victor_sim', ('--port', '8889', '--rate', '10')),
    ('victor-engine-sim', 'victor_sim', ('--port', '8888', '--rate', '10')),
    ('victor-mic-bridge', 'victor_mic_bridge', ()),
    ('webviz-bridge', 'webviz_bridge', ()),
    ('reachy-bridge', 'reachy_bridge', ()),
    ('reachy-sim', 'reachy_sim', ('--rate', '60')),  # a Unity frame rate
    ('dfx-sim', 'dfx_sim', ('--port', '9080', '--processing-delay-s', '1.0')),
    ('dfx-bridge', 'dfx_bridge', ('--ros-args', '-p', 'url:=ws://127.0.0.1:9080')),
    ('letsrobot-sim', 'letsrobot_sim', ('--port', '8100', '--stream-key', 'sim-stream-key')),
    ('letsrobot-bridge', 'letsrobot_bridge', (
        '--ros-args', '-p', 'info_server:=http://127.0.0.1:8100',
        '-p', 'api_server:=http://127.0.0.1:8100', '-p', 'app_server:=http://127.0.0.1:8103',
        '-p', 'user_server:=http://127.0.0.1:8104', '-p', 'robot_id:=sim_robot',
        '-p', 'camera_id:=sim_camera', '-p', 'stream_key:=sim-stream-key',
        '-p', 'video_source:=test', '-p', 'audio_source:=test')),
)


class Child:
    """One started process whose output lines are prefixed with its label."""

    def __init__(self, label: str, executable: str, args: Sequence[str]) -> None:
        path = Path(get_package_prefix('robot_bridges')) / 'lib' / 'robot_bridges' / executable
        self.label = label
        self.popen = subprocess.Popen(
            [str(path), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, 'PYTHONUNBUFFERED': '1'}, start_new_session=True)
        threading.Thread(target=self._relay, daemon=True).start()

    def _relay(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            print(f'{self.label:>17} | {line.rstrip()}', flush=True)

    def stop(self, timeout: float = 3.0) -> None:
        """SIGINT, then SIGKILL if it does not exit within ``timeout``."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


class DemoDriver(Node):
    """Speaks on the chat outbox and records/compiles mic directions, on timers."""

    def __init__(self) -> None:
        super().__init__('demo_driver')
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the README's main job."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--duration', type=float, default=0.0,
                        help='stop after this many seconds (0: run until Ctrl-C)')
    parser.add_argument('--max-rate', type=float, default=1.0,
                        help='printed lines per second per topic')
    args = parser.parse_args(argv)

    # The DFX simulator and bridge read the same token from the environment (never a
    # command line); a fresh one per run unless the caller set one.
    os.environ.setdefault('DFX_TOKEN', f'demo-{secrets.token_hex(12)}')
    children: list[Child] = []
    rclpy.init(args=[])
    executor = MultiThreadedExecutor(num_threads=2)
    stop_at = time.monotonic() + args.duration if args.duration > 0 else None
    try:
        for label, exe, exe_args in PROCESSES:
            children.append(Child(label, exe, exe_args))
        executor.add_node(TopicEcho(['/robot_chat', '/victor', '/dfx', '/letsrobot'],
                                    args.max_rate,
                                    lambda line: print(f'{"ros":>17} | {line}', flush=True)))
        executor.add_node(DemoDriver())
        # Reachy's topics are printed by its driver (goals against present positions).
        executor.add_node(ReachyDriver(lambda line: print(f'{"reachy":>17} | {line}',
                                                          flush=True)))
        executor.add_node(DfxDemoDriver())
        while rclpy.ok() and (stop_at is None or time.monotonic() < stop_at):
            executor.spin_once(timeout_sec=0.2)
            if any(child.popen.poll() is not None for child in children):
                dead = [c.label for c in children if c.popen.poll() is not None]
                print(f'main_job: stopping, process exited: {", ".join(dead)}', file=sys.stderr)
                return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for child in reversed(children):
            child.stop()
        executor.shutdown(timeout_sec=1.0)
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
