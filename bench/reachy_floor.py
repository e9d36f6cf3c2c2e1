"""
The Reachy case's floor: a raw websockets server doing the lockstep exchange, without ROS.

It stands where reachy_bridge stands and does the least the sync loop needs: when a reply
comes, the next goal frame (the full joint table, encoded from a dict each cycle like the
reference server) goes out as a binary frame, then the reply is parsed as JSON and its eyes
are base64-decoded.

With ``--commands-topic`` it is also the floor of joint command latency: a plain rclpy
subscription (no executor: the loop takes its messages itself right before each goal
frame, nothing is validated or counted) sets the goals of the named joints, in radians.
Without it, ROS is not even imported.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
from typing import Any, Callable, Sequence

from robot_bridges.protocols.reachy_joints import DEFAULT_JOINTS
from robot_bridges.sims.signals import stop_event
from websockets.asyncio.server import serve, ServerConnection

GOALS = {joint.wire_name: joint.to_motor(joint.start_deg) for joint in DEFAULT_JOINTS}
BY_NAME = {joint.name: joint for joint in DEFAULT_JOINTS}


def goal_frame() -> bytes:
    """Return the goal frame of every joint, encoded now."""
    return json.dumps({
        'motors': [{'name': n, 'goal_position': g} for n, g in GOALS.items()
                   if not n.startswith('head.disk_')],
        'disks': [{'name': n, 'goal_position': g} for n, g in GOALS.items()
                  if n.startswith('head.disk_')]}).encode()


def no_commands() -> None:
    """Take nothing (no --commands-topic)."""


def command_taker(topic: str) -> Callable[[], None]:
    """Return a function that applies every joint_commands message waiting on ``topic``."""
    import rclpy
    from robot_bridges.node.qos import reliable
    from sensor_msgs.msg import JointState

    rclpy.init()
    node = rclpy.create_node('reachy_floor')
    subscription = node.create_subscription(JointState, topic, lambda msg: None,
                                            reliable(100))
    handle = subscription.handle

    def take() -> None:
        with handle:
            while True:
                taken: Any = handle.take_message(JointState, False)
                if taken is None:
                    return
                msg = taken[0]
                for name, radians in zip(msg.name, msg.position):
                    joint = BY_NAME[name]
                    GOALS[joint.wire_name] = joint.to_motor(math.degrees(radians))
    return take


async def sync(connection: ServerConnection, take: Callable[[], None]) -> None:
    """Lockstep with one client until it leaves."""
    take()
    await connection.send(goal_frame())
    async for frame in connection:
        # Like the bridge: the next goals leave first, the client's reply is parsed after.
        take()
        await connection.send(goal_frame())
        reply = json.loads(frame)
        for eye in ('left_eye', 'right_eye'):
            if eye in reply:
                base64.b64decode(reply[eye])


async def serve_until_signalled(port: int, commands_topic: str) -> None:
    """Serve on 127.0.0.1:``port`` until SIGINT/SIGTERM."""
    take = command_taker(commands_topic) if commands_topic else no_commands

    async def handler(connection: ServerConnection) -> None:
        await sync(connection, take)
    async with serve(handler, '127.0.0.1', port, compression=None, max_size=4 << 20,
                     ping_interval=None):
        await stop_event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the floor server."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--commands-topic', default='',
                        help='also take joint_commands from this topic (latency floor)')
    args = parser.parse_args(argv)
    asyncio.run(serve_until_signalled(args.port, args.commands_topic))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
