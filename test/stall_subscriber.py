"""
A ROS subscriber process that can stop spinning on command (the stalled-subscriber fault).

Run by the test's interpreter: ``python stall_subscriber.py TOPIC TYPE DEPTH KEY``, TYPE as
``package.msg.Name``, KEY what identifies a message: an attribute (``robot_time``),
``json:<field>`` (a field of the message's ``json``), ``data:<field>`` (a field of the JSON
in a std_msgs/String's ``data``), ``stamp`` (the header's stamp in nanoseconds) or ``-``
(none: counts only). It prints ``ready`` once its subscription matched a publisher.

Commands on stdin, one a line: ``stall`` (stop taking messages; DDS keeps at most DEPTH of
them for us meanwhile), ``resume``, ``report`` (prints one JSON line: how many arrived, their
keys), ``quit``. ``stall`` and ``resume`` answer with one JSON line,
``{"at_ns": ..., "last": ...}``: the system clock (the clock the bridges stamp with) once the
spinning had really stopped, or just before it starts again, and the key of the last message
taken (null: none).
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
from typing import Any, Callable

import rclpy
from rclpy.executors import SingleThreadedExecutor
from robot_bridges.node.qos import reliable


def key_of(spec: str) -> Callable[[Any], Any]:
    """Return the function that identifies a message."""
    if spec == '-':
        return lambda msg: None
    if spec == 'stamp':
        return lambda msg: msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
    if spec.startswith('json:'):
        field = spec[5:]
        return lambda msg: json.loads(msg.json).get(field)
    if spec.startswith('data:'):
        field = spec[5:]
        return lambda msg: json.loads(msg.data).get(field)
    return lambda msg: getattr(msg, spec)


def main() -> int:
    """Subscribe, obey stdin, report."""
    topic, type_name, depth, key_spec = sys.argv[1:5]
    module, _, name = type_name.rpartition('.')
    msg_type = getattr(importlib.import_module(module), name)
    key = key_of(key_spec)
    keys: list[Any] = []
    rclpy.init()
    node = rclpy.create_node('stall_subscriber')
    node.create_subscription(msg_type, topic, lambda msg: keys.append(key(msg)),
                             reliable(int(depth)))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    stalled = threading.Event()
    still = threading.Event()  # set by the spinner once it took its last message
    done = threading.Event()

    def spin() -> None:
        said_ready = False
        while not done.is_set():
            if stalled.is_set():
                still.set()
                time.sleep(0.01)  # not spinning: messages wait in DDS, at most DEPTH
                continue
            executor.spin_once(timeout_sec=0.05)
            if not said_ready and node.count_publishers(topic) > 0:
                said_ready = True
                print('ready', flush=True)
    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    for line in sys.stdin:
        command = line.strip()
        if command == 'stall':
            stalled.set()
            still.wait(10)
            print(json.dumps({'at_ns': time.time_ns(), 'last': keys[-1] if keys else None}),
                  flush=True)
        elif command == 'resume':
            print(json.dumps({'at_ns': time.time_ns(), 'last': keys[-1] if keys else None}),
                  flush=True)
            still.clear()
            stalled.clear()
        elif command == 'report':
            print(json.dumps({'received': len(keys), 'keys': list(keys)}), flush=True)
        elif command == 'quit':
            break
    done.set()
    spinner.join(2)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
