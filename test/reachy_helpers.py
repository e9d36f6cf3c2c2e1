"""Reachy test helpers: the bridge and simulator processes, and a raw sync client."""

from __future__ import annotations

from contextlib import contextmanager
import json
import math
from pathlib import Path
import select
import subprocess
import time
from typing import Any, Callable, Iterator

from peer_helpers import require_peer
from robot_bridges.protocols.reachy_joints import DEFAULT_JOINTS
from ros_helpers import free_port, Proc, wait_for
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

PEER_SCRIPT = Path(__file__).resolve().parent / 'peers' / 'reachy' / 'sdk_peer.py'
BY_NAME = {joint.name: joint for joint in DEFAULT_JOINTS}
ALL_NAMES = [joint.name for joint in DEFAULT_JOINTS]


def start_bridge(procs: Callable[..., Proc], namespace: str, **params: Any) -> tuple[Proc, str]:
    """Start reachy_bridge on a free port; return it and the URL clients dial."""
    port = params.pop('port', None) or free_port()
    bridge = procs('reachy_bridge', namespace=namespace, params={'port': port, **params})
    return bridge, f'ws://127.0.0.1:{port}'


def start_sim(procs: Callable[..., Proc], url: str, *args: str) -> Proc:
    """Start reachy_sim dialling ``url``."""
    return procs('reachy_sim', '--url', url, '--status-period', '0', *args)


def dial(url: str, timeout: float = 15.0) -> ClientConnection:
    """Connect a raw client, retrying until the bridge listens."""
    def attempt() -> ClientConnection | None:
        try:
            return connect(url, open_timeout=5, close_timeout=1, max_size=1 << 20)
        except OSError:
            return None
    return wait_for(attempt, timeout, f'the bridge to listen at {url}')


def dial_accepted(url: str, timeout: float = 15.0) -> tuple[ClientConnection, bytes | str]:
    """
    Connect a raw client and return it with its first goal frame.

    A client refused with 1013 (the server has not yet seen its last client out: that ends
    a little after ``connected`` turns false) tries again, until ``timeout``.
    """
    def attempt() -> tuple[ClientConnection, bytes | str] | None:
        client = dial(url, timeout).__enter__()  # the caller's `with client:` closes it
        try:
            return client, client.recv(10)
        except ConnectionClosed as exc:
            client.close()
            if exc.rcvd is not None and exc.rcvd.code == 1013:
                return None
            raise
    return wait_for(attempt, timeout, f'the bridge at {url} to accept a client')


def goals_of(frame: str | bytes) -> dict[str, float]:
    """Return a goal frame's motor and disk goals by wire name."""
    value = json.loads(frame)
    return {item['name']: item['goal_position'] for key in ('motors', 'disks')
            for item in value[key]}


def reply(positions: dict[str, float], **extra: Any) -> str:
    """Return a client reply with these present positions (wire names, motor degrees)."""
    return json.dumps({'motors': [{'name': name, 'present_position': value}
                                  for name, value in positions.items()], **extra})


def next_goals(client: ClientConnection, timeout: float = 10.0) -> dict[str, float]:
    """Receive the next goal frame."""
    return goals_of(client.recv(timeout))


def closed_code(client: ClientConnection, timeout: float = 10.0) -> int:
    """Read until the server closes the connection; return its close code."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                client.recv(max(deadline - time.monotonic(), 0.01))
            except TimeoutError:
                pass
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, 'closed without a close frame'
        return int(exc.rcvd.code)
    raise AssertionError(f'the server did not close the connection within {timeout} s')


def degrees_of(msg: Any) -> dict[str, float]:
    """Return a JointState's positions by name, in degrees."""
    return {name: math.degrees(value) for name, value in zip(msg.name, msg.position)}


class SdkPeer:
    """The SDK's WsServer on a port of ours, and its robot, one JSON request per line."""

    def __init__(self, python: str, port: int) -> None:
        self.port = port
        self._popen = subprocess.Popen(
            [python, str(PEER_SCRIPT), '--port', str(port)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = self._line(60.0)
        assert json.loads(first) == {'listening': port}, first

    def _line(self, timeout: float) -> str:
        out = self._popen.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], timeout)
        line = out.readline() if ready else ''
        if not line:
            self._popen.kill()
            _, err = self._popen.communicate(timeout=5)
            raise AssertionError(f'the SDK peer did not answer: {err[-3000:]}')
        return line

    def ask(self, op: str, **fields: Any) -> Any:
        """Send one request; return the answer (AssertionError for an error answer)."""
        stdin = self._popen.stdin
        assert stdin is not None
        stdin.write(json.dumps({'op': op, **fields}) + '\n')
        stdin.flush()
        answer = json.loads(self._line(30.0))
        assert 'error' not in answer, answer['error']
        return answer

    def close(self) -> None:
        """Quit, or kill after a grace period."""
        try:
            self._popen.communicate('{"op": "quit"}\n', timeout=5)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            self._popen.kill()
            self._popen.communicate(timeout=5)


@contextmanager
def real_sdk() -> Iterator[SdkPeer]:
    """Run the real SDK peer (test/peers/reachy); skip with a reason if absent (CI: fail)."""
    env = require_peer('reachy', 'bin/python')
    peer = SdkPeer(str(env / 'bin' / 'python'), free_port())
    try:
        yield peer
    finally:
        peer.close()
