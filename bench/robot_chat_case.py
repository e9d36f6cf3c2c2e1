"""Robot Chat: load client -> relay server (own process) -> bridge or floor hop -> subscriber."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
import time
from typing import AsyncIterator

import payload
import procs
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

NAME = 'Robot Chat'
KIND = 'robot_chat'
TOPIC = '/robot_chat/inbox'
OPEN_TIMEOUT_S = 10.0


class RobotChatLoad:
    """The sending client, connected to the relay; the hop under test is the other client."""

    def __init__(self, url: str, connection: ClientConnection) -> None:
        self.url = url
        self.hello: tuple[str, ...] = ()
        self._connection = connection
        self._peer_joined = asyncio.Event()
        self._reader = asyncio.create_task(self._read_users())

    async def send(self, phase: int, seq: int) -> None:
        """Stamp and send one load object."""
        await self._connection.send(payload.chat_frame(phase, seq, time.monotonic_ns()))

    async def wait_for_hop(self) -> None:
        """Return once another client (the hop under test) is connected to the relay."""
        await self._peer_joined.wait()

    def bridge_argv(self, depth: int) -> list[str]:
        """Return the argv of the bridge under test, pointed at this relay."""
        return [*procs.executable('robot_chat_bridge'), '--ros-args',
                '-p', f'url:={self.url}', '-p', f'qos_depth:={depth}']

    async def _read_users(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self._connection:
                value = json.loads(frame)
                if value.get('type') == 'users' and value.get('count', 0) >= 2:
                    self._peer_joined.set()

    async def close(self) -> None:
        """Close the connection cleanly."""
        self._reader.cancel()
        await self._connection.close()


@contextlib.asynccontextmanager
async def load(workdir: Path) -> AsyncIterator[RobotChatLoad]:
    """Start a relay in its own process on a free port and connect the load client to it."""
    argv = [*procs.executable('robot_chat_server'), '--host', '127.0.0.1', '--port', '0']
    async with procs.running(argv, workdir / 'robot_chat_server.log',
                             stdout_pipe=True) as server:
        assert server.stdout is not None
        line = await asyncio.wait_for(server.stdout.readline(), OPEN_TIMEOUT_S)
        url = line.decode().rsplit(' ', 1)[-1].strip()
        if not url.startswith('ws://'):
            raise RuntimeError(f'robot_chat_server did not print its URL: {line!r}')
        connection = await connect(url, compression=None, open_timeout=OPEN_TIMEOUT_S)
        client = RobotChatLoad(url, connection)
        try:
            yield client
        finally:
            await client.close()
