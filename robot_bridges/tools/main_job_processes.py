"""
The main job's processes: which start, in which order, with which ports and parameters.

By default the six bridges are nodes of one ``robot_bridges_container`` (README: One
process); ``single_process=False`` starts a process per bridge, as a launch file of
separate nodes would. Ports come from the port plan (:mod:`robot_bridges.tools.port_plan`).
"""

from __future__ import annotations

import atexit
import os
import tempfile
from typing import Callable, Mapping

from robot_bridges.bridges.registry import BRIDGES
from robot_bridges.tools.children import Child
from robot_bridges.tools.port_plan import PortPlan
import yaml

# (label, executable, arguments): the order they start in; they stop in reverse. Ports and
# the addresses of the simulators are added by the port plan.
PROCESSES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ('chat-server', 'robot_chat_server', ()),
    ('chat-bridge', 'robot_chat_bridge', ()),
    ('chat-peer', 'robot_chat_peer', ('--period', '3')),
    ('victor-anim-sim', 'victor_sim', ()),  # the firmware's cadence
    ('victor-engine-sim', 'victor_sim', ()),
    ('victor-mic-bridge', 'victor_mic_bridge', ()),
    ('webviz-bridge', 'webviz_bridge', ()),
    ('reachy-bridge', 'reachy_bridge', ()),
    ('reachy-sim', 'reachy_sim', ('--rate', '60')),  # a Unity frame rate
    ('dfx-sim', 'dfx_sim', ('--processing-delay-s', '1.0')),
    ('dfx-bridge', 'dfx_bridge', ()),
    ('letsrobot-sim', 'letsrobot_sim', ('--stream-key', 'sim-stream-key')),
    ('letsrobot-bridge', 'letsrobot_bridge', (
        '--ros-args', '-p', 'robot_id:=sim_robot',
        '-p', 'camera_id:=sim_camera', '-p', 'stream_key:=sim-stream-key',
        '-p', 'video_source:=test', '-p', 'audio_source:=test')),
)
CONTAINER_LABEL = 'bridges'
# Who dials a bridge (the Reachy bridge is the sync server reachy_sim connects to).
DIALS_A_BRIDGE = ('reachy-sim',)


def start_processes(ports: PortPlan, env: Mapping[str, str], children: list[Child],
                    write: Callable[[str], None], single_process: bool = True) -> None:
    """
    Start PROCESSES in order, each with its port arguments, appending each to ``children``.

    With ``single_process`` the bridges start together as one container once every other
    process has (what dials a bridge, reachy_sim, after it); each bridge's
    ``-p`` values, its ports among them, go into a params file under its node's name (a
    ``-p`` of the container would reach every node). Raises
    :class:`~robot_bridges.tools.port_plan.PortPlanError` if a simulator does not say where
    it listens (auto ports); what has started by then is in ``children``, for the caller.
    """
    started: dict[str, Child] = {}
    held: list[tuple[str, str, tuple[str, ...]]] = []  # bridges, for the container
    later: list[tuple[str, str, tuple[str, ...]]] = []  # what dials a held bridge

    def running(label: str) -> bool:
        return started[label].running

    def start(label: str, exe: str, exe_args: tuple[str, ...]) -> None:
        started[label] = Child(label, exe, (*exe_args, *ports.arguments(label, running)),
                               ports.watch(label, write), env)
        children.append(started[label])

    for label, exe, exe_args in PROCESSES:
        if single_process and exe in BRIDGES:
            held.append((label, exe, (*exe_args, *ports.arguments(label, running))))
        elif single_process and label in DIALS_A_BRIDGE:
            later.append((label, exe, exe_args))
        else:
            start(label, exe, exe_args)
    if held:
        container = Child(CONTAINER_LABEL, 'robot_bridges_container', container_arguments(held),
                          _watch_bridges(ports, [label for label, _, _ in held], write), env)
        children.append(container)
        started.update((label, container) for label, _, _ in held)
    for label, exe, exe_args in later:
        start(label, exe, exe_args)


def container_arguments(bridges: list[tuple[str, str, tuple[str, ...]]]) -> tuple[str, ...]:
    """Return the container's command line for ``bridges`` (their ``-p`` in a params file)."""
    values: dict[str, dict[str, object]] = {}
    for _, kind, arguments in bridges:
        assigned = [a.partition(':=') for a in arguments if ':=' in a]
        if assigned:
            values[f'/**/{kind}'] = {'ros__parameters': {
                name: yaml.safe_load(value) for name, _, value in assigned}}
    # Holds the LetsRobot stream key of the simulator: this user's alone, removed at exit.
    with tempfile.NamedTemporaryFile('w', prefix='main_job_', suffix='.yaml',
                                     delete=False) as out:
        yaml.safe_dump(values, out)
    atexit.register(os.unlink, out.name)
    return (*(arg for _, kind, _ in bridges for arg in ('--bridge', kind)),
            '--ros-args', '--params-file', out.name)


def _watch_bridges(ports: PortPlan, labels: list[str],
                   write: Callable[[str], None]) -> Callable[[str], None]:
    """Return the container's output writer; the Reachy bridge's own lines reach the plan."""
    if 'reachy-bridge' not in labels:
        return write
    learn = ports.watch('reachy-bridge', lambda line: None)  # the one bridge that listens

    def both(line: str) -> None:
        if '[reachy.reachy_bridge]' in line:
            learn(line)
        write(line)
    return both
