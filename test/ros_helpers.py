"""Test helpers: real processes from the install, a spinning test node, bounded waits."""

from __future__ import annotations

import os
from pathlib import Path
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from typing import Any, Callable, Generic, Sequence, TypeVar

from ament_index_python.packages import get_package_prefix
from diagnostic_msgs.msg import DiagnosticArray
import explain
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from robot_bridges.node.qos import LATCHED, reliable
from robot_bridges.runtime.redact import redact_url

T = TypeVar('T')

# DDS matching is not symmetric in time: our endpoint may list the remote one a moment
# before the remote endpoint has matched ours, and a volatile reader ignores what was
# written before it matched. A short settle after matching closes that window.
MATCH_SETTLE_S = 0.5
#: A ROS parameter whose value a failure report must not show.
SECRET = r'[\w-]*(?:token|key|secret|password)[\w-]*'
SECRET_PARAM = re.compile(rf'^({SECRET}):=.*$', re.IGNORECASE)
SECRET_OPTION = re.compile(rf'^(--{SECRET})(=.*)?$', re.IGNORECASE)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """Return ``argv`` with the values of secret ROS parameters and options as ``***``."""
    shown: list[str] = []
    for arg in argv:
        if shown and SECRET_OPTION.match(shown[-1]) and '=' not in shown[-1]:
            shown.append('***')  # the value of `--stream-key VALUE`
            continue
        arg = SECRET_PARAM.sub(r'\1:=***', arg)
        arg = SECRET_OPTION.sub(lambda m: m.group(1) + ('=***' if m.group(2) else ''), arg)
        name, assigned, value = arg.rpartition(':=')
        shown.append(f'{name}{assigned}{_without_credentials(value)}')
    return shown


def _without_credentials(value: str) -> str:
    # A URL's user info and query, a host's user info, a path's query may hold secrets.
    if '://' in value:
        return redact_url(value)
    if '@' in value:
        value = '***@' + value.rpartition('@')[2]
    if '?' in value:
        value = value.partition('?')[0] + '?***'
    return value


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = '') -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout} s waiting for {what or predicate}')
        time.sleep(0.02)


def steady(value: Callable[[], Any], for_s: float = 0.3) -> Callable[[], bool]:
    """Return a predicate for :func:`wait_for`: ``value()`` has not changed for ``for_s`` s."""
    last: list[Any] = [object(), time.monotonic()]

    def unchanged() -> bool:
        now, current = time.monotonic(), value()
        if current != last[0]:
            last[:] = [current, now]
        return now - last[1] >= for_s
    return unchanged


def free_port() -> int:
    """Return a TCP port that was free a moment ago (for servers that must restart on one port)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def executable(name: str) -> str:
    """Return where the install keeps the program that `ros2 run` would start."""
    return str(Path(get_package_prefix('robot_bridges')) / 'lib' / 'robot_bridges' / name)


class Proc:
    """A process started from the install; output is collected for assertions."""

    _cwd = tempfile.mkdtemp(prefix='robot_bridges_test_')  # never the source tree

    def __init__(self, name: str, *args: str, params: dict[str, Any] | None = None,
                 namespace: str | None = None) -> None:
        argv = [executable(name), *args]
        ros_args: list[str] = []
        for key, value in (params or {}).items():
            ros_args += ['-p', f'{key}:={_param_text(value)}']
        if namespace is not None:
            ros_args += ['-r', f'__ns:={namespace}']
        if ros_args:
            argv += ['--ros-args', *ros_args]
        self.name = name
        self._argv = redact_argv([name, *argv[1:]])
        self._started = time.monotonic()
        self._lines: list[str] = []
        self._times: list[float] = []  # when each line was read (time.monotonic())
        self._popen = subprocess.Popen(
            argv, cwd=self._cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, 'PYTHONUNBUFFERED': '1', 'RCUTILS_COLORIZED_OUTPUT': '0'})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        explain.track(self)

    def explain(self) -> str:
        """Return the command, the exit code (or 'running') and the last lines printed."""
        return explain.describe_process(self.name, self._popen, self._lines,
                                        ' '.join(self._argv), self._started)

    def _read(self) -> None:
        assert self._popen.stdout is not None
        for line in self._popen.stdout:
            self._times.append(time.monotonic())
            self._lines.append(line.rstrip('\n'))

    @property
    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr)."""
        return '\n'.join(self._lines)

    @property
    def pid(self) -> int:
        """Return the process id."""
        return self._popen.pid

    def rss_bytes(self) -> int:
        """Return the process's resident memory now (Linux /proc)."""
        for line in Path(f'/proc/{self.pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
        raise AssertionError(f'{self.name}: no VmRSS in /proc/{self.pid}/status')

    @property
    def returncode(self) -> int | None:
        """Exit code, or None while running."""
        return self._popen.poll()

    def wait_output(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait until a printed line matches ``pattern``; return the match."""
        regex = re.compile(pattern)

        def find() -> re.Match[str] | None:
            for line in list(self._lines):
                match = regex.search(line)
                if match:
                    return match
            if self._popen.poll() is not None:
                raise AssertionError(f'{self.name} exited ({self._popen.returncode}) before '
                                     f'printing {pattern!r}:\n{self.output}')
            return None
        return wait_for(find, timeout, f'{self.name} to print {pattern!r}')

    def printed_at(self, pattern: str) -> float:
        """
        Return when the first line matching ``pattern`` was read from the process.

        That is as soon as this process could know it, which may be well before a
        :meth:`wait_output` that polls returns: time a reaction from then, not from the wait.
        """
        regex = re.compile(pattern)
        for when, line in zip(list(self._times), list(self._lines)):
            if regex.search(line):
                return when
        raise AssertionError(f'{self.name} has not printed {pattern!r}:\n{self.output}')

    def stop(self, sig: int = signal.SIGINT, timeout: float = 5.0) -> int:
        """Send ``sig`` and wait for the exit; kill after ``timeout``. Returns the exit code."""
        if self._popen.poll() is None:
            self._popen.send_signal(sig)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait(5)
        self._reader.join(2)
        return self._popen.returncode

    def stop_repeatedly(self, first: int = signal.SIGINT, then: int = signal.SIGINT,
                        timeout: float = 5.0) -> int:
        """
        Send ``first``, then ``then`` again and again (every 10 to 200 ms) until it exits.

        As a launch that forwards a signal and a supervisor that sends its own would: some
        of them land while the process cleans up. Returns the exit code; kills after
        ``timeout``.
        """
        deadline = time.monotonic() + timeout
        self._popen.send_signal(first)
        gap = 0.01
        while self._popen.poll() is None and time.monotonic() < deadline:
            time.sleep(gap)
            gap = min(gap * 1.5, 0.2)
            if self._popen.poll() is None:
                self._popen.send_signal(then)
        return self.stop(timeout=0.1)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the process to exit by itself; fail after ``timeout`` seconds."""
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f'{self.name} still running after {timeout} s') from None

    def kill(self) -> None:
        """SIGKILL: the process vanishes without closing anything."""
        self._popen.kill()
        self._popen.wait(5)


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_param_text(v) for v in value) + ']'
    return str(value)


class Collector(Generic[T]):
    """Messages received on one topic, in arrival order."""

    def __init__(self) -> None:
        self.messages: list[T] = []
        self.times: list[float] = []

    def __call__(self, msg: T) -> None:
        self.times.append(time.monotonic())
        self.messages.append(msg)

    def __len__(self) -> int:
        return len(self.messages)

    def wait_count(self, count: int, timeout: float = 10.0) -> list[T]:
        """Wait until at least ``count`` messages arrived; return them all."""
        wait_for(lambda: len(self.messages) >= count, timeout, f'{count} messages')
        return self.messages

    @property
    def last(self) -> T:
        """Return the newest message."""
        return self.messages[-1]


class ProbeNode:
    """A node spinning in a background thread of the test process."""

    def __init__(self, name: str = 'test_probe') -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = Node(name, context=self.context)
        # Single-threaded, spun in steps by a thread of our own: close() can then stop the
        # spinning first, with no callback left in flight (see close()).
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._subscriptions: dict[str, Any] = {}
        self._clients: dict[tuple[Any, str], Any] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            while not self._stopping.is_set():
                self.executor.spin_once(timeout_sec=0.05)
        except Exception:  # noqa: B902 - context shut down at teardown
            pass

    def subscribe(self, msg_type: Any, topic: str,
                  qos: QoSProfile | None = None) -> Collector[Any]:
        """Collect every message on ``topic`` (reliable, depth 1000 unless ``qos`` given)."""
        collector: Collector[Any] = Collector()
        self._subscriptions[topic] = self.node.create_subscription(
            msg_type, topic, collector, qos or reliable(1000))
        return collector

    def subscribe_latched(self, msg_type: Any, topic: str) -> Collector[Any]:
        """Collect a transient-local topic (connected, connected_users)."""
        return self.subscribe(msg_type, topic, LATCHED)

    def wait_publishers(self, topic: str, count: int = 1, timeout: float = 15.0) -> None:
        """
        Wait until our subscription of ``topic`` matched ``count`` publishers.

        The graph (count_publishers) knows a publisher before DDS has matched it with our
        reader; until then its messages do not reach us.
        """
        subscription = self._subscriptions[topic]
        wait_for(lambda: subscription.get_publisher_count() >= count, timeout,
                 f'{count} matched publisher(s) of {topic}')
        time.sleep(MATCH_SETTLE_S)

    def publisher(self, msg_type: Any, topic: str, wait_subscribers: int = 1) -> Any:
        """Create a reliable publisher; return it once ``wait_subscribers`` subscribers matched."""
        pub = self.node.create_publisher(msg_type, topic, reliable(1000))
        wait_for(lambda: pub.get_subscription_count() >= wait_subscribers, 15.0,
                 f'a subscriber on {topic}')
        time.sleep(MATCH_SETTLE_S)
        return pub

    def call(self, srv_type: Any, name: str, request: Any, timeout: float = 10.0) -> Any:
        """
        Call a service and return its response (waits for the server first).

        One client per service for the node's life: a client destroyed right after its
        response can still be in the executor's hands, and the take then fails ("cannot use
        Destroyable", printed when the failed task is collected).
        """
        client = self._clients.get((srv_type, name))
        if client is None:
            client = self._clients[(srv_type, name)] = self.node.create_client(srv_type, name)
        if not client.wait_for_service(timeout_sec=timeout):
            raise AssertionError(f'service {name} not available')
        future = client.call_async(request)
        wait_for(future.done, timeout, f'a response from {name}')
        return future.result()

    def lifecycle(self, node_fqn: str, transition: int) -> bool:
        """Ask node ``node_fqn`` to take a lifecycle transition; True on success."""
        response = self.call(ChangeState, f'{node_fqn}/change_state',
                             ChangeState.Request(transition=Transition(id=transition)))
        return bool(response.success)

    def lifecycle_state(self, node_fqn: str) -> str:
        """Return the label of the node's current lifecycle state."""
        return str(self.call(GetState, f'{node_fqn}/get_state', GetState.Request())
                   .current_state.label)

    def close(self) -> None:
        """
        Stop spinning, then shut the executor down, destroy the node and the context.

        In that order, with no callback in flight once the spin thread has joined: a task
        that fails because its entity was destroyed under it ("cannot use Destroyable") is
        printed when collected, as "exception was never retrieved". With rclpy spinning a
        MultiThreadedExecutor in another thread, Executor.shutdown() itself raced with the
        spinning (its pool's tasks, its guard condition destroyed): three tests a run.
        """
        self._stopping.set()
        self.executor.wake()
        self._thread.join(2)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def start_listening(procs: Callable[..., Proc], name: str, port: int = 0, *args: str,
                    timeout: float = 10.0) -> tuple[Proc, str]:
    """Start the server program ``name`` on ``port``; return it and the URL it listens on."""
    server = procs(name, '--port', str(port), *args)
    return server, server.wait_output(r'listening on (ws://\S+)', timeout).group(1)


class Diagnostics:
    """The latest diagnostic values of each node, from /diagnostics."""

    def __init__(self, ros: ProbeNode) -> None:
        self._collector: Collector[DiagnosticArray] = ros.subscribe(
            DiagnosticArray, '/diagnostics')

    def values(self, node_fqn: str) -> dict[str, str]:
        """Return the newest key/values published for ``node_fqn`` ({} if none yet)."""
        for array in reversed(list(self._collector.messages)):
            for status in array.status:
                if status.name == node_fqn:
                    return {kv.key: kv.value for kv in status.values} | {
                        '_hardware_id': status.hardware_id, '_message': status.message}
        return {}

    def wait(self, node_fqn: str, predicate: Callable[[dict[str, str]], bool],
             timeout: float = 10.0) -> dict[str, str]:
        """Wait until the node's newest diagnostics satisfy ``predicate``."""
        def matching() -> dict[str, str] | None:
            values = self.values(node_fqn)
            return values if values and predicate(values) else None
        try:
            return wait_for(matching, timeout, f'diagnostics of {node_fqn}')
        except AssertionError as exc:
            raise AssertionError(f'{exc}; the newest: {self.values(node_fqn)}') from None


def stop_all(procs: Sequence[Proc]) -> None:
    """Stop processes in reverse start order (used in fixture teardown)."""
    for proc in reversed(procs):
        proc.stop()
