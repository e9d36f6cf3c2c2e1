"""
The DFX case's receiving subscriber, in its own process.

Stamps every result on arrival (CLOCK_MONOTONIC, comparable with the driver's publish
stamps) and prints one JSON line per result to stdout: ``{"m": measurement, "c": chunk,
"ns": arrival}``. The driver joins them with its publish stamps by (measurement, chunk).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Sequence

import rclpy
from robot_bridges.msg import DfxResult
from robot_bridges.node.qos import reliable
from spin import init, spin_until_stopped
from std_msgs.msg import String


def from_result(msg: DfxResult) -> tuple[str, int]:
    """Return (measurement, chunk) of the bridge's result message."""
    return msg.measurement_id, msg.chunk_order


def from_raw_frame(msg: String) -> tuple[str, int]:
    """Return (measurement, chunk) of a raw result frame (ID, status, JSON body)."""
    measurement_id, _, chunk = json.loads(msg.data[13:])['MeasurementDataID'].rpartition(':')
    return measurement_id, int(chunk)


KINDS: dict[str, tuple[type, Callable[[Any], tuple[str, int]]]] = {
    'dfx': (DfxResult, from_result),
    'dfx_raw': (String, from_raw_frame),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Subscribe until SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--kind', choices=sorted(KINDS), required=True)
    parser.add_argument('--topic', required=True)
    parser.add_argument('--depth', type=int, required=True)
    args = parser.parse_args(argv)
    msg_type, decode = KINDS[args.kind]
    out = sys.stdout

    def on_result(msg: Any) -> None:
        received_ns = time.monotonic_ns()
        measurement_id, chunk = decode(msg)
        out.write(f'{{"m": {json.dumps(measurement_id)}, "c": {chunk}, '
                  f'"ns": {received_ns}}}\n')
        out.flush()

    init()
    node = rclpy.create_node('bench_dfx_subscriber')
    node.create_subscription(msg_type, args.topic, on_result, reliable(args.depth))
    return spin_until_stopped(node)


if __name__ == '__main__':
    raise SystemExit(main())
