"""
The main job's DFX driver: starts a measurement now and then, subscribes, feeds its chunks.

Every ``period_s`` it picks a new measurement ID, calls ``/dfx/subscribe_results`` and, once
the subscription is acknowledged, publishes the measurement's chunks on ``/dfx/chunks`` all at
once (FIRST, CHUNK..., LAST); the bridge paces them one ``duration`` apart, as the API wants.
"""

from __future__ import annotations

import random
from typing import Any

from rclpy.node import Node
from robot_bridges.msg import DfxChunk
from robot_bridges.node.qos import reliable
from robot_bridges.srv import DfxSubscribeResults
from robot_bridges.tools.lean_node import LEAN

LABEL = f'{"dfx-demo":>17} |'


class DfxDemoDriver(Node):
    """One short measurement every ``period_s`` seconds."""

    def __init__(self, namespace: str = '/dfx', period_s: float = 12.0, chunks: int = 3,
                 duration_s: float = 2.0, payload_bytes: int = 4096) -> None:
        super().__init__('dfx_demo_driver', **LEAN)
        self._chunks = self.create_publisher(DfxChunk, f'{namespace}/chunks', reliable(100))
        self._subscribe = self.create_client(DfxSubscribeResults,
                                             f'{namespace}/subscribe_results')
        self._count = chunks
        self._duration_s = duration_s
        self._payload_bytes = payload_bytes
        self._started = 0
        self._rng = random.Random(8)
        self.create_timer(1.0, self._first)
        self._timer = self.create_timer(period_s, self._start_measurement)

    def _first(self) -> None:
        if self._started == 0 and self._subscribe.service_is_ready():
            self._start_measurement()

    def _start_measurement(self) -> None:
        if not self._subscribe.service_is_ready():
            return
        self._started += 1
        measurement_id = f'demo-measurement-{self._started}'
        future = self._subscribe.call_async(
            DfxSubscribeResults.Request(measurement_id=measurement_id))
        future.add_done_callback(lambda f: self._subscribed(measurement_id, f.result()))
        print(f'{LABEL} subscribe_results {measurement_id} ...', flush=True)

    def _subscribed(self, measurement_id: str, response: Any) -> None:
        print(f'{LABEL} subscribe_results {measurement_id} -> success={response.success} '
              f'request_id={response.request_id} {response.message}', flush=True)
        if not response.success:
            return
        for order in range(self._count):
            payload = self._rng.randbytes(self._payload_bytes)
            self._chunks.publish(DfxChunk(
                measurement_id=measurement_id, chunk_order=order, last=order == self._count - 1,
                start_time=order * int(self._duration_s * 1000),
                end_time=(order + 1) * int(self._duration_s * 1000),
                duration=self._duration_s, payload=payload, meta='{"Source":"demo"}'))
        print(f'{LABEL} published {self._count} chunks of {measurement_id} '
              f'({self._duration_s:g} s each; the bridge paces them)', flush=True)
