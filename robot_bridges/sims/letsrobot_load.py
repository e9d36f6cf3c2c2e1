"""
The simulator's command load: ``command_to_robot`` at a steady rate, numbered, counted.

A load user presses ``load.<n>`` (n = 0, 1, 2, ...) on the control socket at ``rate_hz`` on
an absolute schedule, so that a soak or a benchmark can tell exactly what the robot was sent:
``sent`` counts every event handed to a connected robot's session. Started and stopped from
the control surface (``POST /sim/commands``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from robot_bridges.sims.letsrobot_audience import command

LOAD_USER = 'load'
MAX_RATE_HZ = 10_000.0
# Behind schedule by more than this (a suspended process): resume, do not flood.
MAX_LAG_S = 0.5
_log = logging.getLogger('letsrobot_sim')


def load_command(seq: int) -> str:
    """Return the command text of load event ``seq``."""
    return f'load.{seq}'


def load_seq(text: str) -> int | None:
    """Return the sequence number of a load command text; None for any other command."""
    prefix, _, number = text.partition('.')
    return int(number) if prefix == 'load' and number.isdigit() else None


class CommandLoad:
    """Emits numbered commands through ``emit(data) -> robots reached`` until stopped."""

    def __init__(self, emit: Callable[[Any], Awaitable[int]]) -> None:
        self._emit = emit
        self.rate_hz = 0.0
        self.sent = 0
        self._running = False
        self._task: asyncio.Task[None] | None = None

    def state(self) -> dict[str, Any]:
        """Return the rate and how many commands reached a robot."""
        return {'rate_hz': self.rate_hz, 'sent': self.sent}

    async def set_rate(self, robot_id: str, rate_hz: float) -> None:
        """Run at ``rate_hz`` for ``robot_id`` (0: stop); raises ValueError out of range."""
        if not 0.0 <= rate_hz <= MAX_RATE_HZ:
            raise ValueError(f'rate_hz must be in [0, {MAX_RATE_HZ:g}]')
        await self.stop()
        self.rate_hz = rate_hz
        if rate_hz > 0:
            self._running = True
            self._task = asyncio.create_task(self._run(robot_id, 1.0 / rate_hz))

    async def stop(self) -> None:
        """Stop emitting (the count stays); an emit under way finishes and is counted."""
        task, self._task = self._task, None
        self.rate_hz = 0.0
        self._running = False
        if task is not None:
            await task

    async def _run(self, robot_id: str, period: float) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        due = 0
        while True:
            lag = loop.time() - (start + due * period)
            if lag < 0:
                await asyncio.sleep(-lag)
            elif lag > MAX_LAG_S:
                start += lag
            elif due % 64 == 0:
                await asyncio.sleep(0)  # catching up: still let the sessions be served
            if not self._running:
                return
            try:
                reached = await self._emit(
                    command(robot_id, LOAD_USER, load_command(self.sent), 'down'))
            except Exception as exc:  # noqa: B902 - a robot that vanished mid-emit
                _log.debug('load emit failed: %r', exc)
                reached = 0
            if reached:
                self.sent += 1
            due += 1
