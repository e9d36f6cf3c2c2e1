"""Robot Chat test helpers: start the relay, wait for its users count."""

from __future__ import annotations

import asyncio
from typing import Callable

from async_helpers import recv_json
from ros_helpers import Proc, start_listening
from websockets.asyncio.client import ClientConnection


def start_server(procs: Callable[..., Proc], port: int = 0, *args: str) -> tuple[Proc, str]:
    """Start robot_chat_server; return it and its URL."""
    return start_listening(procs, 'robot_chat_server', port, *args)


async def wait_users(ws: ClientConnection, count: int, timeout: float = 10.0) -> None:
    """Read frames until the relay says ``count`` users are connected."""
    async def until() -> None:
        while (await recv_json(ws, timeout)) != {'type': 'users', 'count': count}:
            pass
    await asyncio.wait_for(until(), timeout)
