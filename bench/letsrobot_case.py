"""LetsRobot: simulator (in the driver) -> letsrobot_bridge or floor hop -> subscriber."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
import time
from typing import AsyncIterator

import payload
import procs
from robot_bridges.sims import letsrobot_sim

NAME = 'LetsRobot command'
KIND = 'letsrobot'
TOPIC = '/letsrobot/command'
ROBOT_ID = 'bench'
CONNECT_TIMEOUT_S = 20.0


class LetsRobotLoad:
    """The simulated site, emitting command_to_robot events whose command carries the sample."""

    def __init__(self, sim: letsrobot_sim.LetsRobotSim) -> None:
        self.url = sim.url('control')
        self.hello: tuple[str, ...] = ()
        self._sim = sim
        self._control = sim.sockets['control']

    async def send(self, phase: int, seq: int) -> None:
        """Stamp and emit one command to every robot on the control socket."""
        await self._control.emit('command_to_robot', payload.letsrobot_command(
            ROBOT_ID, phase, seq, time.monotonic_ns()))

    async def wait_for_hop(self) -> None:
        """Return once the hop under test identified itself on the control socket."""
        while not self._control.identified:
            await asyncio.sleep(0.05)

    def bridge_argv(self, depth: int) -> list[str]:
        """Return the argv of the bridge under test, pointed at this simulator."""
        argv = [*procs.executable('letsrobot_bridge'), '--ros-args']
        for key, value in {**self._sim.bridge_parameters(), 'robot_id': ROBOT_ID,
                           'video_source': 'none', 'audio_source': 'none',
                           'qos_depth': depth}.items():
            argv += ['-p', f'{key}:={value}']
        return argv

    def floor_argv(self, topic: str, depth: int) -> list[str]:
        """Return the argv of the floor: a raw socket.io client republishing each event."""
        return [*procs.bench_script('letsrobot_floor'), '--url', self.url, '--topic', topic,
                '--depth', str(depth), '--robot-id', ROBOT_ID]


@contextlib.asynccontextmanager
async def load(workdir: Path) -> AsyncIterator[LetsRobotLoad]:
    """Start the simulator on free ports, with no audience."""
    sim = await letsrobot_sim.start('127.0.0.1', 0, audience_on=False)
    try:
        yield LetsRobotLoad(sim)
    finally:
        await sim.close()
