"""
The floor's middle hop: a minimal websocket client that republishes raw frames to ROS.

It stands where a bridge stands (service -> this process -> subscriber process) and does the
least a bridge could: no parsing, no translation, every received frame published as its raw
text in a std_msgs/String, from the asyncio thread like the bridges, with their QoS.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Sequence

import rclpy
from rclpy.publisher import Publisher
from robot_bridges.node.qos import reliable
from std_msgs.msg import String
from websockets.asyncio.client import connect


async def relay(url: str, hello: Sequence[str], publisher: Publisher) -> None:
    """Forward frames until the server closes the connection."""
    async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:
        for frame in hello:
            await ws.send(frame)
        async for frame in ws:
            publisher.publish(String(data=frame if isinstance(frame, str) else frame.decode()))


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT or the server goes."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--url', required=True)
    parser.add_argument('--topic', required=True)
    parser.add_argument('--depth', type=int, required=True)
    parser.add_argument('--hello', action='append', default=[],
                        help='frame to send after connecting (repeatable)')
    args = parser.parse_args(argv)
    rclpy.init()
    node = rclpy.create_node('bench_floor')
    try:
        publisher = node.create_publisher(String, args.topic, reliable(args.depth))
        asyncio.run(relay(args.url, args.hello, publisher))
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
