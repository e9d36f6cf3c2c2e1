"""
The LetsRobot floor's middle hop: a raw python-socketio client republishing events to ROS.

It stands where the bridge stands (simulator -> this process -> subscriber process) and does
the least a bridge could: identify on connect, and publish every ``command_to_robot``
payload, unparsed (re-serialised as JSON text), in a std_msgs/String, with the bridges' QoS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any, Sequence

import rclpy
from rclpy.publisher import Publisher
from robot_bridges.node.qos import reliable
import socketio
from std_msgs.msg import String


async def relay(url: str, robot_id: str, publisher: Publisher) -> None:
    """Forward events until the server goes away."""
    sio = socketio.AsyncClient(reconnection=False)

    @sio.on('connect')
    async def identify() -> None:
        await sio.emit('robot_id', robot_id)

    @sio.on('command_to_robot')
    def command(data: Any) -> None:
        publisher.publish(String(data=json.dumps(data)))

    await sio.connect(url, transports=['websocket'])
    await sio.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT or the server goes."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--url', required=True)
    parser.add_argument('--topic', required=True)
    parser.add_argument('--depth', type=int, required=True)
    parser.add_argument('--robot-id', required=True)
    args = parser.parse_args(argv)
    rclpy.init()
    node = rclpy.create_node('bench_letsrobot_floor')
    try:
        publisher = node.create_publisher(String, args.topic, reliable(args.depth))
        asyncio.run(relay(args.url, args.robot_id, publisher))
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
