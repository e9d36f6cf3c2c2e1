"""The real socket.io servers of the LetsRobot conformance tests (test/peers/letsrobot)."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import threading
from typing import Any

import explain
from letsrobot_helpers import SimControl
from peer_helpers import require_peer
from ros_helpers import wait_for

SCRIPT = Path(__file__).resolve().parent / 'peers' / 'letsrobot' / 'server.js'
VERSIONS = {'sio1': '1.7.4', 'sio2': '2.5.1', 'sio4': '4.8.1'}
# The Engine.IO protocol each speaks.
PROTOCOL = {'sio1': 3, 'sio2': 3, 'sio4': 4}


class PeerControl(SimControl):
    """The Node server's control surface: the simulator's routes, and restart / move."""

    def restart(self, socket: str, down_ms: int) -> int:
        return int(self._call('/sim/restart', {'socket': socket, 'down_ms': down_ms})['port'])

    def move(self, socket: str) -> int:
        return int(self._call('/sim/move', {'socket': socket})['port'])

    def socket(self, name: str) -> dict[str, Any]:
        return dict(self.state()['sockets'][name])


class NodePeer:
    """One `node server.js --sio <which>` process; stop() ends it."""

    def __init__(self, which: str, ping_interval_ms: int, ping_timeout_ms: int) -> None:
        env_dir = require_peer('letsrobot', f'node_modules/{which}/package.json')
        self.which = which
        self._lines: list[str] = []
        self._popen = subprocess.Popen(
            ['node', str(SCRIPT), '--sio', which, '--ping-interval', str(ping_interval_ms),
             '--ping-timeout', str(ping_timeout_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, 'NODE_PATH': str(env_dir / 'node_modules')})
        threading.Thread(target=self._read, daemon=True).start()
        explain.track(self)
        first = wait_for(lambda: self._first_line(), 20, f'{which} server to start')
        found = json.loads(first.split(' ', 1)[1])
        assert found['version'] == VERSIONS[which], found
        self.ports: dict[str, int] = found['ports']
        self.control = PeerControl(self.url('http'))

    def explain(self) -> str:
        """Return the Node server's exit code (or 'running') and its last lines."""
        return explain.describe_process(f'node server.js --sio {self.which}', self._popen,
                                        self._lines, ' '.join(self._popen.args))

    def _read(self) -> None:
        assert self._popen.stdout is not None
        for line in self._popen.stdout:
            self._lines.append(line.rstrip('\n'))

    def _first_line(self) -> str | None:
        for line in self._lines:
            if line.startswith('letsrobot_peer: {'):
                return line
        if self._popen.poll() is not None:
            raise AssertionError(f'{self.which} server exited:\n' + '\n'.join(self._lines))
        return None

    @property
    def output(self) -> str:
        return '\n'.join(self._lines)

    def url(self, name: str) -> str:
        return f'http://127.0.0.1:{self.ports[name]}'

    def bridge_parameters(self) -> dict[str, str]:
        """Return the bridge parameters that point it at this server (no streams)."""
        return {'info_server': self.url('http'), 'api_server': self.url('http'),
                'app_server': self.url('app'), 'user_server': self.url('user'),
                'relay_scheme': 'http'}

    def stop(self) -> None:
        if self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(5)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait(5)
