"""
Executable robot_chat_peer: a simulated chat participant for demos without people.

Connects to a Robot Chat server, says something every ``--period`` seconds as
``{"type": "message", "user": ..., "message": ...}`` and prints what it receives.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from pathlib import Path
from typing import Sequence

from ament_index_python.packages import get_package_share_directory
from robot_bridges.protocols.text import cut
from robot_bridges.sims import command_line
from robot_bridges.sims.signals import stop_event
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def load_lines() -> list[str]:
    """Read what the peer says from the shipped resource file (one line each)."""
    path = Path(get_package_share_directory('robot_bridges')) / 'resource' / \
        'robot_chat_peer_lines.txt'
    return [line for line in path.read_text().splitlines() if line.strip()]


async def chat(url: str, user: str, period: float, count: int) -> None:
    """Talk and listen until ``count`` lines were said (0: forever) or a signal arrives."""
    stop = stop_event()
    lines = load_lines()
    async for connection in connect(url, open_timeout=5):
        listener = asyncio.create_task(listen(connection, user))
        try:
            for n in itertools.count(1):
                line = lines[(n - 1) % len(lines)]
                await connection.send(json.dumps({'type': 'message', 'user': user,
                                                  'message': line}))
                if n == count:
                    stop.set()
                try:
                    await asyncio.wait_for(stop.wait(), period)
                except asyncio.TimeoutError:
                    continue
                await connection.close()
                return
        except ConnectionClosed:
            continue
        finally:
            listener.cancel()


async def listen(connection: object, user: str) -> None:
    """Print every frame received."""
    try:
        async for frame in connection:  # type: ignore[attr-defined]
            print(f'{user} received: {cut(str(frame))}', flush=True)  # a peer may send MBs
    except ConnectionClosed:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges robot_chat_peer``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--url', default='ws://127.0.0.1:5001')
    parser.add_argument('--user', default='sim_peer')
    parser.add_argument('--period', type=float, default=2.0, help='seconds between lines')
    parser.add_argument('--count', type=int, default=0, help='lines to say, 0 = forever')
    args = command_line.parse_args(parser, argv)
    asyncio.run(chat(args.url, args.user, args.period, args.count))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
