"""
The receiving ROS subscriber of the benchmark, in its own process.

Stamps every message on arrival, decodes the sample it carries (see ``payload``) and talks to
the driver through stdout, one JSON object a line:

* ``{"event": "ready"}`` once the first warm-up message arrived (the publisher is matched);
* ``{"event": "phase", ...}`` when a phase's end marker arrives (or, for phases not yet
  reported, at shutdown): its one-way latencies and delivery counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Sequence

import payload
from payload import BURST, END, PACED, PHASE_NAMES, Sample, WARM
from rclpy.node import Node
from robot_bridges.msg import LetsRobotCommand, MicDirection, RobotChatMessage
from robot_bridges.node.qos import reliable
from spin import init, spin_until_stopped
from std_msgs.msg import String

# kind -> (message type, its decoder)
KINDS: dict[str, tuple[type, Callable[[Any], Sample | None]]] = {
    'robot_chat': (RobotChatMessage, lambda msg: payload.from_chat_json(msg.json)),
    'robot_chat_raw': (String, lambda msg: payload.from_chat_json(msg.data)),
    'victor': (MicDirection,
               lambda msg: payload.from_mic(msg.robot_time, msg.direction, msg.confidence)),
    'victor_raw': (String, lambda msg: payload.from_micdata_json(msg.data)),
    'letsrobot': (LetsRobotCommand, lambda msg: payload.from_letsrobot_command(msg.command)),
    'letsrobot_raw': (String, lambda msg: payload.from_letsrobot_json(msg.data)),
}


class PhaseLog:
    """Arrivals of one phase."""

    def __init__(self) -> None:
        self.latencies_ns: list[int] = []
        self.seqs: set[int] = set()
        self.delivered = 0
        self.first_ns = 0
        self.last_ns = 0

    def add(self, sample: Sample, received_ns: int) -> None:
        """Record one arrival."""
        if not self.delivered:
            self.first_ns = received_ns
        self.last_ns = received_ns
        self.delivered += 1
        self.seqs.add(sample.seq)
        self.latencies_ns.append(received_ns - sample.sent_ns)

    def report(self, phase: int) -> dict[str, Any]:
        """Return the phase as the driver reads it."""
        return {'event': 'phase', 'phase': PHASE_NAMES[phase], 'delivered': self.delivered,
                'unique': len(self.seqs), 'first_ns': self.first_ns, 'last_ns': self.last_ns,
                'latencies_ns': self.latencies_ns if phase == PACED else []}


class BenchSubscriber(Node):
    """One subscription; the callback is the measurement."""

    def __init__(self, kind: str, topic: str, depth: int) -> None:
        super().__init__('bench_subscriber')
        msg_type, self._decode = KINDS[kind]
        self._logs = {PACED: PhaseLog(), BURST: PhaseLog()}
        self._reported: set[int] = set()
        self._ready = False
        self.create_subscription(msg_type, topic, self._on_message, reliable(depth))

    def _on_message(self, msg: Any) -> None:
        received_ns = time.monotonic_ns()
        sample = self._decode(msg)
        if sample is None:
            return
        if sample.phase in self._logs:
            self._logs[sample.phase].add(sample, received_ns)
        elif sample.phase == WARM and not self._ready:
            self._ready = True
            emit({'event': 'ready'})
        elif sample.phase == END:
            self.report(sample.seq)

    def report(self, phase: int) -> None:
        """Print one phase's result, once."""
        if phase in self._logs and phase not in self._reported:
            self._reported.add(phase)
            emit(self._logs[phase].report(phase))

    def report_all(self) -> None:
        """Print every phase not reported yet (at shutdown: what arrived so far)."""
        for phase in self._logs:
            self.report(phase)


def emit(event: dict[str, Any]) -> None:
    """One line to the driver."""
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Subscribe until SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--kind', choices=sorted(KINDS), required=True)
    parser.add_argument('--topic', required=True)
    parser.add_argument('--depth', type=int, required=True)
    args = parser.parse_args(argv)
    init()
    node = BenchSubscriber(args.kind, args.topic, args.depth)
    return spin_until_stopped(node, lambda: node.report_all())


if __name__ == '__main__':
    raise SystemExit(main())
