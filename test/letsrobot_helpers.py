"""LetsRobot test helpers: the simulator process and its control surface, ffmpeg processes."""

from __future__ import annotations

import json
import os
from pathlib import Path
import re
from typing import Any, Callable
import urllib.request

from ros_helpers import Proc, wait_for

STREAM_KEY = 'k3y-Th4t-Must-N0t-Leak'
ROBOT_ID = '4242'
CAMERA_ID = 'cam4242'
OWNER = 'the_owner'
FAST = {'reconnect_min_s': 0.1, 'reconnect_max_s': 0.3}


class SimControl:
    """The simulator's control surface (``/sim/...``), from the test's thread."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data,
                                         method='GET' if body is None else 'POST')
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def state(self) -> dict[str, Any]:
        return self._call('/sim/state')

    def emit(self, socket: str, event: str, data: Any) -> int:
        return int(self._call('/sim/emit', {'socket': socket, 'event': event, 'data': data})
                   ['sent_to'])

    def drop(self, socket: str) -> int:
        return int(self._call('/sim/drop', {'socket': socket})['dropped'])

    def fault(self, route: str, fault: str) -> None:
        self._call('/sim/discovery', {'route': route, 'fault': fault})

    def port_shape(self, shape: str) -> None:
        self._call('/sim/discovery', {'port_shape': shape})

    def move(self, socket: str) -> int:
        return int(self._call('/sim/move', {'socket': socket})['port'])

    def video(self, on: bool) -> int:
        return int(self._call('/sim/video', {'on': on})['sent_to'])

    def received(self, event: str, socket: str | None = None) -> list[Any]:
        return [r['data'] for r in self.state()['received']
                if r['event'] == event and (socket is None or r['socket'] == socket)]

    def identifications(self) -> dict[str, int]:
        return {name: s['identifications'] for name, s in self.state()['sockets'].items()}

    def wait_identified(self, sockets: tuple[str, ...] = ('control', 'chat', 'app'),
                        timeout: float = 20.0) -> None:
        def identified() -> bool:
            state = self.state()['sockets']
            return all(state[name]['identified'] >= 1 for name in sockets) and \
                state['user']['connected'] >= 1
        wait_for(identified, timeout, 'the robot identified on every socket')

    def relay(self, kind: str) -> dict[str, Any] | None:
        return self.state()['relays'][kind]['last']


def start_sim(procs: Callable[..., Proc], *args: str, port: int = 0,
              quiet: bool = True) -> tuple[Proc, SimControl, dict[str, str]]:
    """Start letsrobot_sim; return it, its control surface and the bridge's parameters."""
    argv = ['--port', str(port), '--owner', OWNER, '--stream-key', STREAM_KEY, *args]
    if quiet:
        argv.append('--quiet-audience')
    sim = procs('letsrobot_sim', *argv)
    line = sim.wait_output(r'bridge parameters: (.*) \(and', 20).group(1)
    parameters = dict(re.findall(r'-p (\w+):=(\S+)', line))
    return sim, SimControl(parameters['info_server']), parameters


def bridge_params(sim_params: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """Parameters for a bridge against the simulator: no streams unless asked."""
    return {**sim_params, 'robot_id': ROBOT_ID, 'stream_key': STREAM_KEY,
            'video_source': 'none', 'audio_source': 'none', **FAST, **overrides}


def children(pid: int) -> list[int]:
    """Return the process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / 'stat').read_text()
            except OSError:
                continue
            fields = stat.rsplit(')', 1)[1].split()
            if int(fields[1]) == pid and fields[0] != 'Z':
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return False
    return stat.rsplit(')', 1)[1].split()[0] != 'Z'


def ffmpeg_children(pid: int) -> list[int]:
    """Return the ffmpeg processes started by ``pid``."""
    result = []
    for child in children(pid):
        try:
            if 'ffmpeg' in os.readlink(f'/proc/{child}/exe'):
                result.append(child)
        except OSError:
            continue
    return result
