"""
The video benchmark's camera: paced sensor_msgs/Image frames, and the bridge's diagnostics.

Publishes ``--fps`` frames a second (absolute deadlines, no drift) on ``--topic``, cycling
through one second of pre-built frames (a moving gradient with camera-like noise, so the
encoder has real work), keep-last 5, reliable (as usb_cam and cam2image publish by default)
or best effort. Talks to the driver through stdout, one JSON object a line:

* ``{"event": "diagnostics", "values": {...}}`` for every /diagnostics status of ``--node``;
* ``{"event": "published", "count": N}`` once a second.
"""

from __future__ import annotations

import argparse
import array
import json
import threading
import time
from typing import Sequence

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

ENCODINGS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}


def frames(width: int, height: int, channels: int, count: int) -> list[array.array]:
    """Return ``count`` frames: a gradient drifting one step a frame, plus sensor noise."""
    rng = np.random.default_rng(7)
    x = np.arange(width, dtype=np.int32)[None, :, None]
    y = np.arange(height, dtype=np.int32)[:, None, None]
    c = np.arange(channels, dtype=np.int32)[None, None, :]
    result = []
    for n in range(count):
        image = (x * 255 // width + y * 255 // height + 40 * c + 8 * n) % 256
        image = image + rng.integers(-6, 7, size=(height, width, channels))
        result.append(array.array('B', np.clip(image, 0, 255).astype(np.uint8).tobytes()))
    return result


def emit(event: dict[str, object]) -> None:
    """Write one JSON line to the driver."""
    print(json.dumps(event), flush=True)


def publish_paced(node: Node, topic: str, qos: QoSProfile, width: int, height: int,
                  encoding: str, fps: int) -> None:
    """Publish frames at ``fps`` until the context shuts down (SIGINT)."""
    channels = ENCODINGS[encoding]
    publisher = node.create_publisher(Image, topic, qos)
    messages = [Image(width=width, height=height, encoding=encoding, step=width * channels,
                      data=data) for data in frames(width, height, channels, fps)]
    for message in messages:
        message.header.frame_id = 'bench_camera'
    period = 1.0 / fps
    start = time.monotonic()
    count = 0
    while node.context.ok():
        delay = start + count * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1.0:  # fell more than a second behind: restart the schedule
            start, count = time.monotonic(), 0
        message = messages[count % len(messages)]
        message.header.stamp = node.get_clock().now().to_msg()
        publisher.publish(message)
        count += 1
        if count % fps == 0:
            emit({'event': 'published', 'count': count})


def main(argv: Sequence[str] | None = None) -> int:
    """Publish until SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--topic', required=True)
    parser.add_argument('--node', required=True, help='the bridge node, e.g. /letsrobot/'
                        'letsrobot_bridge, whose diagnostics to report')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--encoding', choices=sorted(ENCODINGS), default='rgb8')
    parser.add_argument('--fps', type=int, default=25)
    parser.add_argument('--reliability', choices=('reliable', 'best_effort'),
                        default='reliable')
    args = parser.parse_args(argv)
    rclpy.init()
    node = rclpy.create_node('bench_image_source')

    def diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == args.node:
                emit({'event': 'diagnostics',
                      'values': {kv.key: kv.value for kv in status.values}})

    node.create_subscription(DiagnosticArray, '/diagnostics', diagnostics, 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE
                         if args.reliability == 'reliable' else ReliabilityPolicy.BEST_EFFORT)
        publish_paced(node, args.topic, qos, args.width, args.height, args.encoding, args.fps)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
