"""
DFX: 256 KiB chunks -> dfx_bridge -> dfx_sim -> results, against a raw websockets floor.

Per round, one simulator process (``dfx_sim --processing-delay-s 0``) serves both paths,
which run side by side from fresh processes:

* bridge: driver (this process, rclpy) publishes ``chunks`` -> dfx_bridge (own process,
  ``pace_chunks:=false``) -> simulator -> dfx_bridge publishes ``results`` -> subscriber
  (own process);
* floor: the same, with dfx_bridge replaced by ``dfx_floor.py``: a raw websockets client
  doing the same request/response (0510 subscribe, 0506 add data, statuses and results
  read, v2 JSON) that republishes each result frame unparsed as a std_msgs/String.

Round trip: the driver's stamp just before ``publish`` to the subscriber's result callback,
joined by (measurement, chunk). Paced chunks measure latency, the two paths' chunks
alternating so that the machine's load (it is shared) hits both alike; then, one path after
the other, a window of chunks in flight (published, result not yet seen by the subscriber)
measures payload MB/s. The raw client is also driven without ROS, from this process, to show
what the ROS hops cost.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import secrets
import statistics
import sys
import time
from typing import AsyncIterator, Awaitable, Callable, Sequence

from dfx_floor import add_data_frame, RawClient
import procs
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.publisher import Publisher
from robot_bridges.msg import DfxChunk
from robot_bridges.node.qos import reliable
from robot_bridges.srv import DfxSubscribeResults
from stats import percentile

NAME = 'DFX chunks -> results'
PAYLOAD_BYTES = 256 * 1024
CHUNK_DURATION_S = 0.001  # tiny: the simulator processes every chunk (none is early)
PACED_COUNT = 100
PACED_PERIOD_S = 0.05  # per path; the two paths' chunks alternate, 25 ms apart
WARM_UP_DISCARD = 10
BURST_COUNT = 240
WINDOW = 8  # chunks in flight during the burst
WARM_PERIOD_S = 0.05
QOS_DEPTH = 100
CONNECT_TIMEOUT_S = 30.0
STALL_TIMEOUT_S = 15.0  # no new result for this long: the rest is lost
MB = 1e6
# Targets of issue 8.
P50_MARGIN_MS = 0.5
RATE_RATIO_MIN = 0.8


@dataclass(frozen=True)
class PathRound:
    """One path (bridge, floor or raw client) in one round."""

    p50_ms: float
    p99_ms: float
    latency_samples: int
    sent: int
    delivered: int  # unique (measurement, chunk) results
    rate_mb_s: float
    hop_cpu_us: float  # hop process CPU per burst chunk (0 for the raw client)

    @property
    def lost(self) -> int:
        """Chunks (paced and burst) whose result never arrived."""
        return self.sent - self.delivered


@dataclass(frozen=True)
class Round:
    """Bridge, floor and raw client (no ROS) of one round."""

    bridge: PathRound
    floor: PathRound
    raw: PathRound


class Arrivals:
    """Result arrival stamps by (measurement, chunk); waiters wake on every arrival."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, int], int] = {}
        self._per_measurement: dict[str, int] = {}
        self._changed = asyncio.Event()

    def add(self, measurement_id: str, chunk: int, received_ns: int) -> None:
        """Record one arrival (a duplicate keeps the first stamp)."""
        key = (measurement_id, chunk)
        if key not in self.times:
            self.times[key] = received_ns
            self._per_measurement[measurement_id] = self.count(measurement_id) + 1
        self._changed.set()

    def count(self, measurement_id: str) -> int:
        """Return how many distinct chunks of the measurement have a result."""
        return self._per_measurement.get(measurement_id, 0)

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``condition()``; False if no arrival came for ``timeout`` seconds."""
        while not condition():
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except asyncio.TimeoutError:
                return condition()
        return True

    async def read(self, process: asyncio.subprocess.Process) -> None:
        """Record the subscriber process's lines until it exits."""
        assert process.stdout is not None
        async for line in process.stdout:
            event = json.loads(line)
            self.add(event['m'], event['c'], event['ns'])


Send = Callable[[str, int, bool], Awaitable[None]]


class Driver:
    """The sending side of the ROS paths: a DfxChunk publisher and a service client."""

    def __init__(self) -> None:
        self._context = rclpy.Context()
        rclpy.init(context=self._context)
        self.node = Node('dfx_bench_driver', context=self._context)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self.node)
        payload = os.urandom(PAYLOAD_BYTES)
        # One message, built once (the payload conversion is not the hop under test).
        self._msg = DfxChunk(payload=payload, duration=CHUNK_DURATION_S)
        self.sent_ns: dict[tuple[str, int], int] = {}

    def close(self) -> None:
        """Destroy the node and shut its context down."""
        self._executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self._context)

    def sender(self, publisher: Publisher) -> Send:
        """Return a function that stamps and publishes one chunk."""
        msg, sent_ns = self._msg, self.sent_ns

        async def send(measurement_id: str, chunk: int, last: bool) -> None:
            msg.measurement_id, msg.chunk_order, msg.last = measurement_id, chunk, last
            sent_ns[(measurement_id, chunk)] = time.monotonic_ns()
            publisher.publish(msg)
        return send

    async def subscribe(self, namespace: str, measurements: Sequence[str]) -> None:
        """Call the bridge's subscribe_results for each measurement; raise unless acked."""
        client = self.node.create_client(DfxSubscribeResults, f'{namespace}/subscribe_results')
        try:
            if not await asyncio.to_thread(client.wait_for_service, CONNECT_TIMEOUT_S):
                raise TimeoutError('the bridge offered no subscribe_results service')
            for measurement_id in measurements:
                future = client.call_async(DfxSubscribeResults.Request(
                    measurement_id=measurement_id))
                await asyncio.to_thread(self._executor.spin_until_future_complete, future,
                                        CONNECT_TIMEOUT_S)
                response = future.result()
                if response is None or not response.success:
                    raise RuntimeError(f'subscribe_results {measurement_id} failed: '
                                       f'{response and response.message}')
        finally:
            self.node.destroy_client(client)


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 50 ms; raise TimeoutError saying what did not happen."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out after {timeout} s waiting for {what}')
        await asyncio.sleep(0.05)


async def warm_up(send: Send, arrivals: Arrivals, measurement_id: str) -> None:
    """Send chunks until one result came back: the whole chain is connected and matched."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    chunk = 0
    while not arrivals.count(measurement_id):
        if time.monotonic() > deadline:
            raise TimeoutError(f'no result after {CONNECT_TIMEOUT_S} s of warm-up chunks')
        await send(measurement_id, chunk, False)
        chunk += 1
        await arrivals.wait_for(lambda: arrivals.count(measurement_id) > 0, WARM_PERIOD_S)


async def paced(paths: Sequence[tuple[Send, Arrivals, str]]) -> None:
    """
    Send PACED_COUNT chunks per path, interleaved, at absolute deadlines; wait for results.

    Path i sends its chunk k at ``k * PACED_PERIOD_S + i * PACED_PERIOD_S / len(paths)``: the
    paths share every moment of the machine's load, and never each other's round trip.
    """
    offset = PACED_PERIOD_S / len(paths)
    start = time.monotonic() + 0.01
    for chunk in range(PACED_COUNT):
        for i, (send, _, measurement_id) in enumerate(paths):
            delay = start + chunk * PACED_PERIOD_S + i * offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await send(measurement_id, chunk, chunk == PACED_COUNT - 1)
    for _, arrivals, measurement_id in paths:
        await arrivals.wait_for(lambda: arrivals.count(measurement_id) >= PACED_COUNT,
                                STALL_TIMEOUT_S)


async def burst(send: Send, arrivals: Arrivals, measurement_id: str) -> None:
    """Send BURST_COUNT chunks keeping WINDOW in flight; wait for their results."""
    for chunk in range(BURST_COUNT):
        if not await arrivals.wait_for(
                lambda: chunk - arrivals.count(measurement_id) < WINDOW, STALL_TIMEOUT_S):
            raise TimeoutError(f'the burst stalled at chunk {chunk}')
        await send(measurement_id, chunk, chunk == BURST_COUNT - 1)
    await arrivals.wait_for(lambda: arrivals.count(measurement_id) >= BURST_COUNT,
                            STALL_TIMEOUT_S)


def path_round(sent_ns: dict[tuple[str, int], int], arrivals: Arrivals, prefix: str,
               hop_cpu_s: float) -> PathRound:
    """Join send and arrival stamps of one path's paced and burst measurements."""
    times = arrivals.times
    paced_id, burst_id = f'{prefix}-paced', f'{prefix}-burst'
    latencies_ms = [(times[(paced_id, c)] - sent_ns[(paced_id, c)]) / 1e6
                    for c in range(WARM_UP_DISCARD, PACED_COUNT) if (paced_id, c) in times]
    burst_times = sorted(times[(burst_id, c)] for c in range(BURST_COUNT)
                         if (burst_id, c) in times)
    span_s = (burst_times[-1] - burst_times[0]) / 1e9 if len(burst_times) > 1 else 0.0
    rate = (len(burst_times) - 1) * PAYLOAD_BYTES / MB / span_s if span_s > 0 else 0.0
    delivered = arrivals.count(paced_id) + arrivals.count(burst_id)
    return PathRound(percentile(latencies_ms, 50), percentile(latencies_ms, 99),
                     len(latencies_ms), PACED_COUNT + BURST_COUNT, delivered, rate,
                     hop_cpu_s / BURST_COUNT * 1e6)


@contextlib.asynccontextmanager
async def simulator(workdir: Path) -> AsyncIterator[str]:
    """Run dfx_sim on a free port with no processing delay; yield its URL."""
    argv = [*procs.executable('dfx_sim'), '--port', '0', '--processing-delay-s', '0']
    async with procs.running(argv, workdir / 'sim.log', stdout_pipe=True) as process:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), CONNECT_TIMEOUT_S)
        if b'listening on ' not in line:
            raise RuntimeError(f'dfx_sim did not start: {line[:200]!r}')
        yield line.decode().split('listening on ', 1)[1].strip()


class Hop:
    """One ROS path: its hop (bridge or floor) and subscriber processes, and its arrivals."""

    def __init__(self, driver: Driver, url: str, workdir: Path, prefix: str,
                 bridge: bool) -> None:
        self.prefix = prefix
        self.bridge = bridge
        self.measurements = [f'{prefix}-{phase}' for phase in ('warm', 'paced', 'burst')]
        self.arrivals = Arrivals()
        self.hop_cpu_s = 0.0
        self._driver = driver
        self._url = url
        self._workdir = workdir
        self._namespace = f'/{prefix}'
        self._publisher = driver.node.create_publisher(DfxChunk, f'{self._namespace}/chunks',
                                                       reliable(QOS_DEPTH))
        self.send = driver.sender(self._publisher)
        self.process: asyncio.subprocess.Process | None = None

    def close(self) -> None:
        """Destroy the driver's publisher of this path."""
        self._driver.node.destroy_publisher(self._publisher)

    def _argv(self) -> tuple[list[str], list[str]]:
        namespace = self._namespace
        kind, results = ('dfx', f'{namespace}/results') if self.bridge else \
            ('dfx_raw', f'{namespace}/raw_results')
        subscriber = [*procs.bench_script('dfx_subscriber'), '--kind', kind,
                      '--topic', results, '--depth', str(QOS_DEPTH)]
        if self.bridge:
            hop = [*procs.executable('dfx_bridge'), '--ros-args', '-r', f'__ns:={namespace}',
                   '-p', f'url:={self._url}', '-p', 'dialect:=json',
                   '-p', 'pace_chunks:=false', '-p', f'qos_depth:={QOS_DEPTH}']
        else:
            hop = [*procs.bench_script('dfx_floor'), '--url', self._url,
                   '--chunks', f'{namespace}/chunks', '--results', results,
                   '--depth', str(QOS_DEPTH)]
            for measurement_id in self.measurements:
                hop += ['--measurement', measurement_id]
        return subscriber, hop

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        """Start the subscriber and the hop (stopped with ``stack``)."""
        subscriber_argv, hop_argv = self._argv()
        subscriber = await stack.enter_async_context(procs.running(
            subscriber_argv, self._workdir / f'{self.prefix}_subscriber.log', stdout_pipe=True))
        reader = asyncio.create_task(self.arrivals.read(subscriber))
        stack.callback(reader.cancel)
        self.process = await stack.enter_async_context(procs.running(
            hop_argv, self._workdir / f'{self.prefix}_hop.log', stdout_pipe=not self.bridge))

    async def ready(self) -> None:
        """Wait until the hop is connected and subscribed, and the chain carries a result."""
        assert self.process is not None
        if self.bridge:
            await self._driver.subscribe(self._namespace, self.measurements)
        else:
            assert self.process.stdout is not None
            line = await asyncio.wait_for(self.process.stdout.readline(), CONNECT_TIMEOUT_S)
            if line.strip() != b'connected':
                raise RuntimeError('the floor hop did not connect')
        await wait_until(lambda: self._publisher.get_subscription_count() > 0,
                         CONNECT_TIMEOUT_S, f'{self.prefix} to subscribe to chunks')
        await warm_up(self.send, self.arrivals, self.measurements[0])

    async def burst(self) -> None:
        """Run the burst, noting the hop process's CPU time meanwhile."""
        assert self.process is not None
        before = procs.cpu_seconds(self.process)
        async with procs.profiled(self.process, self.prefix):  # BENCH_PROFILE_DIR
            await burst(self.send, self.arrivals, self.measurements[2])
        self.hop_cpu_s = procs.cpu_seconds(self.process) - before

    def result(self) -> PathRound:
        """Return this path's figures."""
        return path_round(self._driver.sent_ns, self.arrivals, self.prefix, self.hop_cpu_s)


async def measure_paths(driver: Driver, url: str, workdir: Path, n: int) -> tuple[PathRound,
                                                                                  PathRound]:
    """Bridge and floor side by side: paced chunks interleaved, then one burst each."""
    bridge = Hop(driver, url, workdir, f'dfx_bridge_{n}', True)
    floor = Hop(driver, url, workdir, f'dfx_floor_{n}', False)
    try:
        async with contextlib.AsyncExitStack() as stack:
            await floor.start(stack)
            await bridge.start(stack)
            await floor.ready()
            await bridge.ready()
            # Alternate which path goes first, round after round.
            order = (floor, bridge) if n % 2 == 0 else (bridge, floor)
            await paced([(hop.send, hop.arrivals, hop.measurements[1]) for hop in order])
            for hop in order:
                await hop.burst()
    finally:
        bridge.close()
        floor.close()
    return bridge.result(), floor.result()


async def measure_raw(url: str, prefix: str) -> PathRound:
    """Measure the raw client alone (no ROS): send stamp to result frame, same loop."""
    arrivals = Arrivals()
    sent_ns: dict[tuple[str, int], int] = {}
    payload = os.urandom(PAYLOAD_BYTES)

    def on_result(frame: bytes) -> None:
        received_ns = time.monotonic_ns()
        measurement_id, _, chunk = \
            json.loads(frame[13:])['MeasurementDataID'].rpartition(':')
        arrivals.add(measurement_id, int(chunk), received_ns)

    client = RawClient(url, os.environ['DFX_TOKEN'], on_result)

    async def send(measurement_id: str, chunk: int, last: bool) -> None:
        sent_ns[(measurement_id, chunk)] = time.monotonic_ns()
        client.outbox.put_nowait(add_data_frame(client.new_id(), measurement_id, chunk, last,
                                                CHUNK_DURATION_S, payload))

    measurements = [f'{prefix}-{phase}' for phase in ('warm', 'paced', 'burst')]
    running = asyncio.create_task(client.run(measurements))
    try:
        await asyncio.wait_for(client.connected.wait(), CONNECT_TIMEOUT_S)
        await warm_up(send, arrivals, measurements[0])
        await paced([(send, arrivals, measurements[1])])
        await burst(send, arrivals, measurements[2])
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    return path_round(sent_ns, arrivals, prefix, 0.0)


async def measure(workdir: Path, rounds: int) -> list[Round]:
    """Measure ``rounds`` rounds: floor, bridge, raw client, on one simulator per round."""
    os.environ['DFX_TOKEN'] = secrets.token_hex(8)  # inherited by simulator and hops
    driver = Driver()
    try:
        measured = []
        for n in range(rounds):
            round_dir = workdir / f'dfx_{n}'
            round_dir.mkdir()
            async with simulator(round_dir) as url:
                bridge, floor = await measure_paths(driver, url, round_dir, n)
                raw = await measure_raw(url, f'dfx_raw_{n}')
            measured.append(Round(bridge, floor, raw))
        return measured
    except Exception as exc:
        print(f'bench: dfx failed: {exc!r}; process logs:', file=sys.stderr)
        for log in sorted(workdir.glob('dfx_*/*.log')):
            tail = log.read_text(errors='replace').splitlines()[-15:]
            print(f'--- {log.relative_to(workdir)}', *tail, sep='\n', file=sys.stderr)
        raise
    finally:
        driver.close()


def median(rounds: Sequence[PathRound], field: str) -> float:
    """Return the median of one figure over rounds."""
    return statistics.median(getattr(r, field) for r in rounds)


def table(rounds: Sequence[Round]) -> tuple[str, bool]:
    """Render the round medians as markdown; say whether every target passed."""
    bridge, floor, raw = ([getattr(r, path) for r in rounds] for path in
                          ('bridge', 'floor', 'raw'))
    b50, f50 = median(bridge, 'p50_ms'), median(floor, 'p50_ms')
    b_rate, f_rate = median(bridge, 'rate_mb_s'), median(floor, 'rate_mb_s')
    b_lost, f_lost = sum(r.lost for r in bridge), sum(r.lost for r in floor)
    b_got, f_got = sum(r.delivered for r in bridge), sum(r.delivered for r in floor)
    # Bridge and floor are paired within a round (same simulator, same minutes of a shared
    # machine): the verdicts take the median of the per-round comparisons.
    delta = statistics.median(r.bridge.p50_ms - r.floor.p50_ms for r in rounds)
    ratio = statistics.median(r.bridge.rate_mb_s / r.floor.rate_mb_s if r.floor.rate_mb_s
                              else 0.0 for r in rounds)
    verdicts = (delta <= P50_MARGIN_MS, b_lost == 0, ratio >= RATE_RATIO_MIN)

    def mark(ok: bool) -> str:
        return 'PASS' if ok else 'FAIL'

    def per_round(field: str, fmt: str) -> str:
        return ', '.join(f'{getattr(r.bridge, field):{fmt}}/{getattr(r.floor, field):{fmt}}'
                         for r in rounds)

    lines = [
        '| Case | Round trip p50 ms bridge / floor | p50 Δ ms (≤ +0.5) '
        '| Round trip p99 ms bridge / floor '
        '| Chunks delivered, lost: bridge / floor (0 lost) | Payload MB/s bridge / floor '
        '| Rate ratio (≥ 0.8) |',
        '|---|---|---|---|---|---|---|',
        f'| {NAME} | {b50:.3f} / {f50:.3f} | {delta:+.3f} {mark(verdicts[0])} '
        f'| {median(bridge, "p99_ms"):.3f} / {median(floor, "p99_ms"):.3f} '
        f'| {b_got:,}, {b_lost} / {f_got:,}, {f_lost} {mark(verdicts[1])} '
        f'| {b_rate:.1f} / {f_rate:.1f} | {ratio:.2f} {mark(verdicts[2])} |',
        '',
        f'DFX: median of {len(rounds)} rounds (bridge and floor side by side, then the raw '
        'client without ROS, on one dfx_sim --processing-delay-s 0 per round); p50 Δ and rate '
        'ratio are medians of the per-round comparisons; losses are totals. '
        f'{PAYLOAD_BYTES // 1024} KiB payloads, v2 (JSON, base64), chunk duration '
        f'{CHUNK_DURATION_S * 1e3:g} ms, pace_chunks:=false. Round trip: driver stamp before '
        f'publish to the subscriber callback of the result (CLOCK_MONOTONIC), '
        f'{PACED_COUNT} chunks {PACED_PERIOD_S * 1e3:g} ms apart per path and round, bridge '
        f'and floor chunks alternating, the first {WARM_UP_DISCARD} discarded. MB/s: '
        f'{BURST_COUNT} chunks with {WINDOW} in flight (published, result not yet at the '
        'subscriber), payload bytes (10^6) over first to last result, one path after the '
        'other (which goes first alternates per round). Process layout: driver (bench '
        'process) -> hop (bridge or floor, own process) -> simulator (own process) -> hop -> '
        f'subscriber (own process); QoS reliable depth {QOS_DEPTH}.',
        f'Per round bridge/floor: p50 ms {per_round("p50_ms", ".2f")}; p99 ms '
        f'{per_round("p99_ms", ".2f")}; MB/s {per_round("rate_mb_s", ".1f")}; hop CPU us per '
        f'burst chunk {per_round("hop_cpu_us", ".0f")}.',
        f'Raw client without ROS (send to result frame in one process, same simulator): p50 '
        f'{median(raw, "p50_ms"):.3f} ms, p99 {median(raw, "p99_ms"):.3f} ms, '
        f'{median(raw, "rate_mb_s"):.1f} MB/s, lost {sum(r.lost for r in raw)}.',
    ]
    return '\n'.join(lines), all(verdicts)
