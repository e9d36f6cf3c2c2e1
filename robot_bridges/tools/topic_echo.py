"""
Executable topic_echo: print ROS traffic compactly, for machines without the ros2 CLI.

Discovers the topics under the given namespaces (and /diagnostics), subscribes to each with
its own type, and prints at most ``--max-rate`` lines per second per topic, saying how many
messages each line stands for. It is cheap at any message rate: the executor never wakes for
a message (each wake-up rebuilds its wait set); the messages wait in the readers' histories
and are taken, serialized, every TAKE_PERIOD_S, and only the printed ones are deserialized.
"""

from __future__ import annotations

import argparse
from functools import partial
import importlib
import math
import sys
import time
from typing import Any, Callable, Sequence

import rclpy
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rclpy.subscription import Subscription
from rclpy.topic_endpoint_info import TopicEndpointInfo
from robot_bridges.node.loop_subscription import LoopTaken, take_waiting
from robot_bridges.tools.lean_node import LEAN

SKIPPED_SUFFIXES = ('/transition_event', '/parameter_events', '/rosout')
MAX_TEXT = 160
TAKE_PERIOD_S = 0.25
# Messages kept per topic between two takes (more are dropped, and not counted).
HISTORY = 100


def message_class(type_name: str) -> Any:
    """Import the class of a type named like ``std_msgs/msg/String``."""
    package, kind, name = type_name.split('/')
    return getattr(importlib.import_module(f'{package}.{kind}'), name)


def summarize(msg: Any) -> str:
    """Render a message as ``field=value`` pairs on one line, long values shortened."""
    if type(msg).__name__ == 'DiagnosticArray':
        return ' | '.join(
            f'{s.name}: {s.message} ' + ' '.join(
                f'{kv.key}={kv.value}' for kv in s.values if kv.value and kv.key != 'last_error')
            for s in msg.status)
    parts = []
    for field in msg.get_fields_and_field_types():
        if field == 'header':
            continue
        value = getattr(msg, field)
        if isinstance(value, float):
            text = 'nan' if math.isnan(value) else f'{value:.4g}'
        elif hasattr(value, 'tolist'):
            text = '[' + ', '.join(f'{v:.3g}' for v in value.tolist()) + ']'
        else:
            text = str(value)
        parts.append(f'{field}={text}')
    line = ' '.join(parts)
    return line if len(line) <= MAX_TEXT else line[:MAX_TEXT - 3] + '...'


def wanted(topic: str, namespaces: tuple[str, ...], diagnostics: bool) -> bool:
    """Whether to print ``topic``: one under ``namespaces``, or /diagnostics if asked."""
    if topic.endswith(SKIPPED_SUFFIXES):
        return False
    if topic == '/diagnostics':
        return diagnostics
    return topic.startswith(namespaces)


def matching_qos(publishers: Sequence[TopicEndpointInfo]) -> QoSProfile:
    """Return a QoS that receives from every publisher: latched and best effort if any is."""
    latched = any(info.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                  for info in publishers)
    best_effort = any(info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                      for info in publishers)
    return QoSProfile(
        depth=HISTORY,
        reliability=(ReliabilityPolicy.BEST_EFFORT if best_effort
                     else ReliabilityPolicy.RELIABLE),
        durability=(DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE))


class TopicEcho(Node):
    """Subscribes to every topic under some namespaces and prints them, rate-limited."""

    def __init__(self, namespaces: Sequence[str], max_rate: float,
                 write: Callable[[str], None] = print, diagnostics: bool = True) -> None:
        """Print the topics under ``namespaces``, and /diagnostics unless told not to."""
        super().__init__('topic_echo', **LEAN)
        self._namespaces = tuple(ns.rstrip('/') + '/' for ns in namespaces)
        self._diagnostics = diagnostics
        self._period = 1.0 / max_rate if max_rate > 0 else 0.0
        self._write = write
        self._subscribed: dict[str, Subscription] = {}
        self._taken = LoopTaken()  # by _take, never by the executor
        self.create_timer(TAKE_PERIOD_S, self._take)
        self._last_print: dict[str, float] = {}
        self._unprinted: dict[str, int] = {}
        self.create_timer(1.0, self._discover)
        self._discover()

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if (topic in self._subscribed or len(types) != 1
                    or not wanted(topic, self._namespaces, self._diagnostics)):
                continue
            try:
                msg_type = message_class(types[0])
            except (ImportError, AttributeError, ValueError):
                continue
            qos = matching_qos(self.get_publishers_info_by_topic(topic))
            # /diagnostics is decoded whole: its lines are per reporting node (a few a second).
            diagnostics = msg_type.__name__ == 'DiagnosticArray'
            callback = (partial(self._on_diagnostics, topic) if diagnostics
                        else partial(self._on_serialized, topic, msg_type))
            # No QoS event handlers: the QoS matches the publishers'.
            self._subscribed[topic] = self.create_subscription(
                msg_type, topic, callback, qos, raw=not diagnostics,
                callback_group=self._taken,
                event_callbacks=SubscriptionEventCallbacks(use_default_callbacks=False))

    def _take(self) -> None:
        for subscription in self._subscribed.values():
            take_waiting(subscription, subscription.callback, limit=HISTORY)

    def _on_diagnostics(self, topic: str, msg: Any) -> None:
        for status in msg.status:  # one line per reporting node, not per topic
            count = self._count(status.name)
            if count:
                self._print(topic, count, type(msg)(header=msg.header, status=[status]))

    def _on_serialized(self, topic: str, msg_type: Any, data: bytes) -> None:
        count = self._count(topic)
        if count:
            self._print(topic, count, deserialize_message(data, msg_type))

    def _count(self, key: str) -> int:
        """Count one message under ``key``; return how many a line printed now stands for."""
        now = time.monotonic()
        self._unprinted[key] = self._unprinted.get(key, 0) + 1
        if now - self._last_print.get(key, -1e9) < self._period:
            return 0
        self._last_print[key] = now
        return self._unprinted.pop(key)

    def _print(self, topic: str, count: int, msg: Any) -> None:
        more = f' (+{count - 1} more)' if count > 1 else ''
        self._write(f'[{topic}]{more} {summarize(msg)}')


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges topic_echo``."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('namespaces', nargs='*', default=['/'],
                        help='print topics under these namespaces (default: all)')
    parser.add_argument('--max-rate', type=float, default=2.0,
                        help='lines per second per topic at most (0: every message)')
    argv = list(sys.argv if argv is None else argv)
    args = parser.parse_args(rclpy.utilities.remove_ros_args(argv)[1:])
    rclpy.init(args=argv)
    node = TopicEcho(args.namespaces, args.max_rate, lambda line: print(line, flush=True))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
