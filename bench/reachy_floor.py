"""
The Reachy case's floor: a raw websockets server doing the lockstep exchange, without ROS.

It stands where reachy_bridge stands and does the least the sync loop needs: each reply is
parsed as JSON and its eyes are base64-decoded, then the next goal frame (the full joint
table, encoded from a dict each cycle like the reference server) goes out as a binary frame.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from typing import Sequence

from robot_bridges.protocols.reachy_joints import DEFAULT_JOINTS
from robot_bridges.sims.signals import stop_event
from websockets.asyncio.server import serve, ServerConnection

GOALS = {joint.wire_name: joint.to_motor(joint.start_deg) for joint in DEFAULT_JOINTS}


def goal_frame() -> bytes:
    """Return the goal frame of every joint, encoded now."""
    return json.dumps({
        'motors': [{'name': n, 'goal_position': g} for n, g in GOALS.items()
                   if not n.startswith('head.disk_')],
        'disks': [{'name': n, 'goal_position': g} for n, g in GOALS.items()
                  if n.startswith('head.disk_')]}).encode()


async def sync(connection: ServerConnection) -> None:
    """Lockstep with one client until it leaves."""
    await connection.send(goal_frame())
    async for frame in connection:
        # Like the bridge: the next goals leave first, the client's reply is parsed after.
        await connection.send(goal_frame())
        reply = json.loads(frame)
        for eye in ('left_eye', 'right_eye'):
            if eye in reply:
                base64.b64decode(reply[eye])


async def serve_until_signalled(port: int) -> None:
    """Serve on 127.0.0.1:``port`` until SIGINT/SIGTERM."""
    async with serve(sync, '127.0.0.1', port, compression=None, max_size=4 << 20,
                     ping_interval=None):
        await stop_event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the floor server."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--port', type=int, required=True)
    asyncio.run(serve_until_signalled(parser.parse_args(argv).port))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
