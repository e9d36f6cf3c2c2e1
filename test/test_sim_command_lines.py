"""Every simulator takes the ROS arguments a launch file (or `ros2 run`) adds (issue #22)."""

from __future__ import annotations

from importlib.metadata import distributions
import subprocess
from typing import Callable

import pytest
from ros_helpers import executable, Proc, start_listening


def simulators() -> list[str]:
    """Return every installed program that is neither a bridge (an rclpy node) nor a tool."""
    names = {entry.name for dist in distributions()
             if dist.metadata['Name'].replace('-', '_') == 'robot_bridges'
             for entry in dist.entry_points if entry.group == 'console_scripts'
             and entry.value.startswith('robot_bridges.sims.')}
    return sorted(names)


# What launch_ros appends to a Node action's command line, and a user's own additions.
ROS_ARGS = ('--ros-args', '-r', '__node:=launched_sim', '-r', '__ns:=/launch_ns',
            '-p', 'unused:=1', '--log-level', 'warn', '--')


def test_every_simulator_is_walked() -> None:
    assert {'robot_chat_server', 'robot_chat_peer', 'victor_sim', 'letsrobot_sim', 'dfx_sim',
            'reachy_sim'} <= set(simulators())


def test_every_simulator_takes_ros_arguments_and_refuses_malformed_ones() -> None:
    # All at once (each is two interpreter starts): --help proves the rest was parsed.
    runs = {(name, kind): subprocess.Popen([executable(name), '--help', *args],
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True)
            for name in simulators()
            for kind, args in (('ros', ROS_ARGS), ('malformed', ('--ros-args', '-r', 'x')))}
    for (name, kind), run in runs.items():
        out, _ = run.communicate(timeout=60)
        if kind == 'ros':
            assert run.returncode == 0 and 'usage:' in out, f'{name}: {out}'
        else:
            assert run.returncode == 2 and 'invalid ROS arguments' in out, f'{name}: {out}'
            assert 'Traceback' not in out, out


def test_a_simulator_started_as_launch_ros_starts_it_serves(
        procs: Callable[..., Proc]) -> None:
    server, url = start_listening(procs, 'robot_chat_server', 0, *ROS_ARGS[:-1])
    assert url.startswith('ws://127.0.0.1:')
    assert server.stop() == 0 and 'Traceback' not in server.output


@pytest.mark.parametrize('name', ['robot_chat_server', 'victor_sim'])
def test_a_simulator_signalled_again_while_it_stops_exits_0_without_a_traceback(
        procs: Callable[..., Proc], name: str) -> None:
    sim, _ = start_listening(procs, name)
    assert sim.stop_repeatedly() == 0, sim.output
    assert 'Traceback' not in sim.output and 'KeyboardInterrupt' not in sim.output
