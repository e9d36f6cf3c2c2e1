"""
The soak's counting subscriber: one output topic of one bridge, in its own process.

Counts what arrives, in constant memory (a soak must not measure its own growth): messages
of the stream, sequence gaps (numbers skipped since the last one) and repeats (a number not
above the last one: a duplicate or a reordering). The executor never runs the subscription:
a timer takes every waiting message from the reader's history in one go (DRAIN_PERIOD_S),
which costs a fraction of a callback per message, so that the counters of three 1 kHz
streams leave the two cores to what is measured. Talks to the driver through stdout, one
JSON object a line:

* ``{"event": "matched"}`` once the subscription matched a publisher;
* ``{"event": "count", ...}`` once a second while messages arrive, and once at SIGINT.

Kind ``diagnostics`` instead follows ``/diagnostics`` and reports, once a second, the newest
counters of every node under the soak's namespace (``{"event": "diagnostics", ...}``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Sequence

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from robot_bridges.msg import DfxResult, LetsRobotCommand, MicDirection, RobotChatMessage
from robot_bridges.node.loop_subscription import LoopTaken, take_waiting
from robot_bridges.node.qos import reliable
from robot_bridges.sims.letsrobot_load import load_seq
from sensor_msgs.msg import JointState
from soak_dfx_load import CHUNKS_PER_MEASUREMENT
from spin import init, spin_until_stopped

SOAK_CHAT_TYPE = 'soak'
DFX_PREFIX = 'soak-'
VICTOR_RATE_HZ = [1000.0]  # victor_sim's robot time of push k is k / rate (--rate)
DRAIN_PERIOD_S = 0.05


def chat_seq(msg: RobotChatMessage) -> int | None:
    """Return the seq of a soak chat object; None for anything else (users counts...)."""
    value = json.loads(msg.json)
    return value.get('seq') if value.get('type') == SOAK_CHAT_TYPE else None


def victor_seq(msg: MicDirection) -> int | None:
    """Return the simulator's push number, from its robot time."""
    return round(msg.robot_time * VICTOR_RATE_HZ[0])


def letsrobot_seq(msg: LetsRobotCommand) -> int | None:
    """Return the load command's number; None for any other command."""
    return load_seq(msg.command)


def dfx_seq(msg: DfxResult) -> int | None:
    """Return measurement * chunks per measurement + chunk order, for a soak result."""
    prefix, _, number = msg.measurement_id.partition(DFX_PREFIX)
    if prefix or not number.isdigit() or msg.chunk_order < 0:
        return None
    return int(number) * CHUNKS_PER_MEASUREMENT + msg.chunk_order


# kind -> (message type, its sequence number or None (not the stream's), numbered?)
KINDS: dict[str, tuple[type, Callable[[Any], int | None], bool]] = {
    'robot_chat': (RobotChatMessage, chat_seq, True),
    'victor': (MicDirection, victor_seq, True),
    'letsrobot': (LetsRobotCommand, letsrobot_seq, True),
    'reachy': (JointState, lambda msg: 0, False),
    'dfx': (DfxResult, dfx_seq, True),
}


class SoakCounter(Node):
    """One subscription; counters only."""

    def __init__(self, kind: str, topic: str, depth: int) -> None:
        super().__init__(f'soak_counter_{kind}')
        msg_type, self._seq, self._numbered = KINDS[kind]
        self.received = 0
        self.other = 0
        self.gaps = 0
        self.repeats = 0
        self._last: int | None = None
        self._reported = -1
        self._matched = False
        self._depth = depth
        self._subscription = self.create_subscription(msg_type, topic, self._on_message,
                                                      reliable(depth),
                                                      callback_group=LoopTaken())
        self.create_timer(DRAIN_PERIOD_S, self._drain)
        self.create_timer(1.0, self._tick)

    def _drain(self) -> None:
        take_waiting(self._subscription, self._on_message, self._depth)

    def _on_message(self, msg: Any) -> None:
        seq = self._seq(msg)
        if seq is None:
            self.other += 1
            return
        self.received += 1
        if not self._numbered:
            return
        if self._last is not None:
            if seq <= self._last:
                self.repeats += 1
                return
            self.gaps += seq - self._last - 1
        self._last = seq

    def _tick(self) -> None:
        if not self._matched and self._subscription.get_publisher_count() > 0:
            self._matched = True
            emit({'event': 'matched'})
        if self.received != self._reported:
            self.report()

    def report(self) -> None:
        """Print the counters."""
        self._reported = self.received
        emit({'event': 'count', 'received': self.received, 'other': self.other,
              'gaps': self.gaps, 'repeats': self.repeats, 'last': self._last})


class DiagnosticsCounter(Node):
    """The newest diagnostic counters of the nodes under one namespace."""

    KEYS = ('connected', 'messages_in', 'messages_out', 'decode_errors', 'dropped',
            'reconnects', 'last_error')

    def __init__(self, namespace: str) -> None:
        super().__init__('soak_counter_diagnostics')
        self._prefix = namespace.strip('/') + '/'
        self._latest: dict[str, dict[str, str]] = {}
        self._received: dict[str, float] = {}  # when each node's newest status came
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_array,
                                 reliable(100))
        self.create_timer(1.0, self.report)

    def _on_array(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            name = status.name.lstrip('/')
            if name.startswith(self._prefix):
                self._latest[name] = {kv.key: kv.value for kv in status.values
                                      if kv.key in self.KEYS}
                self._received[name] = time.monotonic()

    def report(self) -> None:
        """Print the newest counters of every node seen, and how old they are (age_s)."""
        now = time.monotonic()
        emit({'event': 'diagnostics', 'nodes': {
            name: {**values, 'age_s': f'{now - self._received[name]:.1f}'}
            for name, values in self._latest.items()}})


def emit(event: dict[str, Any]) -> None:
    """One line to the driver."""
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Count until SIGINT, then print the final counts."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--kind', choices=sorted([*KINDS, 'diagnostics']), required=True)
    parser.add_argument('--topic', required=True)
    parser.add_argument('--depth', type=int, required=True)
    parser.add_argument('--rate', type=float, default=VICTOR_RATE_HZ[0],
                        help="victor_sim's --rate (its push numbers come from the robot time)")
    args = parser.parse_args(argv)
    VICTOR_RATE_HZ[0] = args.rate
    init()
    node: SoakCounter | DiagnosticsCounter
    if args.kind == 'diagnostics':
        node = DiagnosticsCounter(args.topic)
    else:
        node = SoakCounter(args.kind, args.topic, args.depth)
    return spin_until_stopped(node, lambda: node.report())


if __name__ == '__main__':
    raise SystemExit(main())
