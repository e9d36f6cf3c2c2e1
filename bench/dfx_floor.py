"""
The DFX case's floor hop: a raw websockets client doing the bridge's request/response.

It stands where dfx_bridge stands (chunks topic -> this process -> simulator -> this process
-> results topic) and does the least that exchange needs, in the same dialect (v2, JSON):
it subscribes (0510) to the measurements named on its command line when it connects, turns
each received DfxChunk into a 0506 frame (base64 payload spliced into the JSON text), reads
every response (acknowledgements and add-data statuses are matched to their request and
dropped) and republishes each result frame unparsed as a std_msgs/String.

:class:`RawClient` is the same exchange without ROS; the case also drives it directly to
show what the ROS transport itself costs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import sys
import threading
from typing import Callable, Sequence

import rclpy
from robot_bridges.msg import DfxChunk
from robot_bridges.node.qos import reliable
from spin import init, spin_until_stopped
from std_msgs.msg import String
from websockets.asyncio.client import ClientConnection, connect

ADD_DATA = '0506'
SUBSCRIBE = '0510'
HEADER = 13  # request ID (10) + status (3)


def add_data_frame(request_id: str, measurement_id: str, chunk_order: int, last: bool,
                   duration: float, payload: bytes | bytearray | memoryview) -> str:
    """
    Return a v2 0506 frame: JSON of the small fields, the base64 payload spliced in.

    Base64 text never needs JSON escaping, so only the small fields go through json.dumps.
    """
    action = 'LAST' if last else 'FIRST' if chunk_order == 0 else 'CHUNK'
    head = json.dumps({'Params': {'ID': measurement_id}, 'Action': f'{action}::PROCESS',
                       'ChunkOrder': chunk_order, 'StartTime': 0, 'EndTime': 0,
                       'Duration': duration, 'Meta': ''}, separators=(',', ':'))
    payload_text = base64.b64encode(payload).decode('ascii')
    return f'{ADD_DATA}{request_id}{head[:-1]},"Payload":"{payload_text}"}}'


def subscribe_frame(request_id: str, measurement_id: str) -> str:
    """Return a v2 0510 frame whose results will carry ``request_id``."""
    body = json.dumps({'Params': {'ID': measurement_id}, 'RequestID': request_id},
                      separators=(',', ':'))
    return f'{SUBSCRIBE}{request_id}{body}'


class RawClient:
    """One connection: sends frames from a queue, reads every response, hands on results."""

    def __init__(self, url: str, token: str, on_result: Callable[[bytes], None]) -> None:
        self._url = url
        self._token = token
        self._on_result = on_result
        self._ids = (f'{n:010d}' for n in itertools.count())
        self._pending: set[str] = set()
        self._result_ids: set[str] = set()
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
        self.connected = asyncio.Event()

    def new_id(self) -> str:
        """Return a fresh request ID, expected to be answered by a status."""
        request_id = next(self._ids)
        self._pending.add(request_id)
        return request_id

    def subscribe(self, measurement_id: str) -> str:
        """Return a subscribe frame; its results are handed to ``on_result``."""
        request_id = self.new_id()
        self._result_ids.add(request_id)
        return subscribe_frame(request_id, measurement_id)

    async def run(self, measurements: Sequence[str]) -> None:
        """Subscribe to ``measurements``, then send and receive until the server closes."""
        async with connect(self._url, subprotocols=['json'],  # type: ignore[list-item]
                           additional_headers={'Authorization': f'Bearer {self._token}'},
                           compression=None, max_size=None, ping_interval=None) as ws:
            for measurement_id in measurements:
                await ws.send(self.subscribe(measurement_id))
            self.connected.set()
            sender = asyncio.create_task(self._send_all(ws))
            try:
                await self._receive_all(ws)
            finally:
                sender.cancel()

    async def _send_all(self, ws: ClientConnection) -> None:
        while True:
            await ws.send(await self.outbox.get())

    async def _receive_all(self, ws: ClientConnection) -> None:
        pending, result_ids, on_result = self._pending, self._result_ids, self._on_result
        async for frame in ws:
            assert isinstance(frame, bytes)
            request_id = frame[:10].decode('ascii')
            if request_id in pending:  # an acknowledgement or an add-data status
                pending.discard(request_id)
                if frame[10:HEADER] != b'200':
                    print(f'dfx_floor: status {frame[:200]!r}', file=sys.stderr, flush=True)
            elif request_id in result_ids:
                on_result(frame)
            else:
                print(f'dfx_floor: unexpected {frame[:200]!r}', file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT or the server goes; prints 'connected' once subscribed."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--url', required=True)
    parser.add_argument('--chunks', required=True, help='DfxChunk topic to read')
    parser.add_argument('--results', required=True, help='std_msgs/String topic to write')
    parser.add_argument('--depth', type=int, required=True)
    parser.add_argument('--measurement', action='append', default=[],
                        help='measurement to subscribe to (repeatable)')
    args = parser.parse_args(argv)
    token = os.environ['DFX_TOKEN']
    init()
    node = rclpy.create_node('bench_dfx_floor')
    loop = asyncio.new_event_loop()
    publisher = node.create_publisher(String, args.results, reliable(args.depth))
    client = RawClient(args.url, token,
                       lambda frame: publisher.publish(String(data=frame.decode('utf-8'))))

    def send_chunk(measurement_id: str, chunk_order: int, last: bool, duration: float,
                   payload: bytes) -> None:
        client.outbox.put_nowait(add_data_frame(client.new_id(), measurement_id, chunk_order,
                                                last, duration, payload))

    def on_chunk(msg: DfxChunk) -> None:
        # Like the bridges: the executor thread hands the chunk over, the loop encodes it.
        loop.call_soon_threadsafe(send_chunk, msg.measurement_id, msg.chunk_order, msg.last,
                                  msg.duration, msg.payload)

    node.create_subscription(DfxChunk, args.chunks, on_chunk, reliable(args.depth))

    async def run() -> None:
        connecting = asyncio.create_task(client.run(args.measurement))
        await client.connected.wait()
        print('connected', flush=True)
        await connecting

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    return spin_until_stopped(node)


if __name__ == '__main__':
    raise SystemExit(main())
