"""
The soak's DFX load: one measurement chunk per second into dfx_bridge, in its own process.

Measurements ``soak-<m>`` of ``--chunks`` chunks each, one after the other: subscribe to the
results (``subscribe_results``), then publish its chunks on ``chunks``, one per second. Every
chunk published counts as sent, once its measurement's subscription was acknowledged; each
should come back as one ``DfxResult``. At SIGINT it stops publishing and waits until the
bridge acknowledged every chunk (reliable QoS) before it reports, so a chunk published just
before the stop is not lost with the process.

Talks to the driver through stdout, one JSON object a line: ``{"event": "matched"}`` once
the bridge subscribed to the chunks; ``{"event": "sent", "sent": n}`` after every chunk, and
at SIGINT with ``"acked": true`` or ``false``; ``{"event": "error", ...}`` on a refusal.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from typing import Any, Sequence

from rclpy.duration import Duration
from rclpy.node import Node
from robot_bridges.msg import DfxChunk
from robot_bridges.node.qos import reliable
from robot_bridges.srv import DfxSubscribeResults
from spin import init, spin_until_stopped

PAYLOAD_BYTES = 4096
# How long the exit waits for the bridge to acknowledge the chunks published last.
ACK_TIMEOUT_S = 5.0
CHUNKS_PER_MEASUREMENT = 10
# Seconds of data each chunk stands for: less than the one-second publishing period, so that
# neither the bridge's pacing nor the API's "too early" rule ever holds a chunk back.
CHUNK_DURATION_S = 0.5


class DfxLoad(Node):
    """Subscribe, then one chunk per period; counts what it published."""

    def __init__(self, namespace: str, chunks: int, period_s: float) -> None:
        super().__init__('soak_dfx_load')
        self._publisher = self.create_publisher(DfxChunk, f'{namespace}/chunks', reliable(100))
        self._client = self.create_client(DfxSubscribeResults,
                                          f'{namespace}/subscribe_results')
        self._chunks = chunks
        self._rng = random.Random(10)
        self.sent = 0
        self._measurement = -1
        self._order = chunks  # no measurement open: subscribe first
        self._waiting = False
        self._matched = False
        self.create_timer(period_s, self._tick)

    def _tick(self) -> None:
        if not self._matched:
            if self._publisher.get_subscription_count() < 1 or \
                    not self._client.service_is_ready():
                return
            self._matched = True
            emit({'event': 'matched'})
            return
        if self._waiting:
            return
        if self._order >= self._chunks:
            self._subscribe()
            return
        order = self._order
        self._publisher.publish(DfxChunk(
            measurement_id=self._measurement_id(), chunk_order=order,
            last=order == self._chunks - 1, start_time=order * 1000,
            end_time=order * 1000 + int(CHUNK_DURATION_S * 1000), duration=CHUNK_DURATION_S,
            payload=self._rng.randbytes(PAYLOAD_BYTES), meta='{"Source":"soak"}'))
        self._order += 1
        self.sent += 1
        emit({'event': 'sent', 'sent': self.sent})

    def flush(self) -> bool:
        """Wait until the bridge acknowledged every chunk published; False on a timeout."""
        return self._publisher.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S))

    def _measurement_id(self) -> str:
        return f'soak-{self._measurement}'

    def _subscribe(self) -> None:
        self._measurement += 1
        self._waiting = True
        future = self._client.call_async(
            DfxSubscribeResults.Request(measurement_id=self._measurement_id()))
        future.add_done_callback(self._subscribed)

    def _subscribed(self, future: Any) -> None:
        self._waiting = False
        response = future.result()
        if response is None or not response.success:
            emit({'event': 'error', 'measurement': self._measurement_id(),
                  'message': getattr(response, 'message', 'no response')})
            return  # the next tick subscribes a new measurement
        self._order = 0


def emit(event: dict[str, Any]) -> None:
    """One line to the driver."""
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT, then print the final count."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--namespace', default='/dfx')
    parser.add_argument('--period', type=float, default=1.0, help='seconds between chunks')
    args = parser.parse_args(argv)
    init()
    node = DfxLoad(args.namespace, CHUNKS_PER_MEASUREMENT, args.period)
    return spin_until_stopped(
        node, lambda: emit({'event': 'sent', 'sent': node.sent, 'acked': node.flush()}))


if __name__ == '__main__':
    raise SystemExit(main())
