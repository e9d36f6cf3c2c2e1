"""Victor simulator helpers: the victor_sim executable, or a simulator in this process."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Coroutine, Iterator, TypeVar

import pytest
from robot_bridges.sims.victor_sim import start, VictorSim
from ros_helpers import Proc, start_listening

T = TypeVar('T')


def start_sim(procs: Callable[..., Proc], port: int = 0, *args: str) -> tuple[Proc, str]:
    """Start the victor_sim executable; return it and its URL."""
    return start_listening(procs, 'victor_sim', port, *args, timeout=15)


class SimThread:
    """A simulator in this process, on its own asyncio loop thread (for raw frames)."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.sim: VictorSim = self.run(start(port=0, **options))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        """Run ``coro`` on the simulator's loop; return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Call ``function(*args)`` on the simulator's loop; return its result."""
        async def call() -> T:
            return function(*args)
        return self.run(call())

    def close(self) -> None:
        """Close the simulator, then stop its loop and thread."""
        self.run(self.sim.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@pytest.fixture(name='sim_thread')
def sim_thread_fixture() -> Iterator[Callable[..., SimThread]]:
    """Start in-process simulators with options; close them all after the test."""
    sims: list[SimThread] = []

    def make(**options: Any) -> SimThread:
        sims.append(SimThread(**options))
        return sims[-1]
    yield make
    for sim in sims:
        sim.close()
