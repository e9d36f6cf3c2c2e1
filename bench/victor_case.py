"""Victor: simulator (in the driver) -> victor_mic_bridge or floor hop -> subscriber."""

from __future__ import annotations

import contextlib
from pathlib import Path
import time
from typing import AsyncIterator

import payload
import procs
from robot_bridges.protocols import webviz
from robot_bridges.sims import victor_sim

NAME = 'Victor mic_direction'
KIND = 'victor'
TOPIC = '/victor/mic_direction'
CONNECT_TIMEOUT_S = 20.0


class VictorLoad:
    """The simulated robot, pushing micdata whose robot time is the send time."""

    def __init__(self, sim: victor_sim.VictorSim) -> None:
        self.url = f'ws://127.0.0.1:{sim.port}{victor_sim.PATH}'
        self.hello = (webviz.subscribe_frame(webviz.MICDATA),)
        self._sim = sim

    async def send(self, phase: int, seq: int) -> None:
        """Stamp and push one micdata sample (never blocks: no backpressure in the sim)."""
        direction, confidence = payload.mic_fields(phase, seq)
        self._sim.push(webviz.MICDATA,
                       victor_sim.make_micdata(time.monotonic(), direction, confidence))

    async def wait_for_hop(self) -> None:
        """Return once the hop under test subscribed to micdata."""
        await self._sim.wait_for_subscribers(webviz.MICDATA, timeout=CONNECT_TIMEOUT_S)

    def bridge_argv(self, depth: int) -> list[str]:
        """Return the argv of the bridge under test, pointed at this simulator."""
        return [*procs.executable('victor_mic_bridge'), '--ros-args',
                '-p', 'host:=127.0.0.1', '-p', f'port:={self._sim.port}',
                '-p', f'qos_depth:={depth}']


@contextlib.asynccontextmanager
async def load(workdir: Path) -> AsyncIterator[VictorLoad]:
    """Start the simulator on a free port, with no traffic of its own."""
    # Compact frames: the robot's styled writer costs the driver ~95 us a frame in Python
    # (compact ~10 us), which would make the load generator, not the bridge, the limit.
    sim = await victor_sim.start('127.0.0.1', 0, autoplay=False, pretty=False)
    try:
        yield VictorLoad(sim)
    finally:
        await sim.close()
