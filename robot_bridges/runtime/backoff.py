"""
Reconnection delays: exponential backoff with full jitter.

Handed to the transport library's own reconnect policy (websockets' ``reconnect_delays``,
python-socketio's reconnection settings) and used for plain retries such as HTTP discovery.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import random
from typing import Iterator


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: the n-th lies in [min_s, min(max_s, min_s * factor**n)]."""

    min_s: float = 0.5
    max_s: float = 10.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 < self.min_s <= self.max_s:
            raise ValueError(f'need 0 < min_s <= max_s, got {self.min_s} and {self.max_s}')
        if self.factor < 1.0:
            raise ValueError(f'factor must be >= 1, got {self.factor}')

    def delays(self) -> Iterator[float]:
        """Yield delays forever; start a new iterator after each successful connection."""
        ceiling = self.min_s
        while True:
            yield random.uniform(self.min_s, ceiling)
            ceiling = min(self.max_s, ceiling * self.factor)


async def sleep_unless(event: asyncio.Event | None, delay: float) -> None:
    """Wait ``delay`` seconds, or less if ``event`` is set meanwhile (a backoff that stops)."""
    if event is None:
        await asyncio.sleep(delay)
        return
    try:
        await asyncio.wait_for(event.wait(), delay)
    except asyncio.TimeoutError:
        pass
