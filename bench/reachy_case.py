"""
Reachy: the lockstep sync rate against a raw server, and joint command latency.

The Unity-like client (reachy_sim's ReachySim: full joint table, two 320x240 JPEG eyes,
force sensors) runs in the driver process, uncapped, against either reachy_bridge or the
floor (``reachy_floor.py``: raw websockets server, JSON parse and base64 decode of the eyes,
no ROS), each in its own process. Then, with the bridge, the driver publishes
``joint_commands`` at 100 Hz, each with a new ``l_antenna`` goal, and the client notes when
that goal first arrives in a goal frame (same process, same clock). A command replaced by
the next before any frame carried it counts until the frame that carried the later one; the
cycle it is compared with is the median time between goal frames meanwhile (a mean would
grow with every stall of a loaded machine and make the target easier).
"""

from __future__ import annotations

import asyncio
import bisect
from dataclasses import dataclass
import math
from pathlib import Path
import socket
import statistics
import sys
import threading
import time
from typing import Sequence

import procs
import rclpy
from robot_bridges.node.qos import reliable
from robot_bridges.sims.reachy_sim import ReachySim, SimOptions
from sensor_msgs.msg import JointState
from stats import percentile
from websockets.asyncio.client import ClientConnection, connect

NAME = 'Reachy sync'
NAMESPACE = '/reachy_bench'
RATE_WINDOW_S = 5.0
WARM_UP_S = 1.0
COMMANDS = 500
COMMAND_PERIOD_S = 0.01
CONNECT_TIMEOUT_S = 30.0
# Targets of issue 9.
RATE_RATIO_MIN = 0.8
RATE_MIN_HZ = 300.0
LATENCY_MARGIN_MS = 0.3


@dataclass(frozen=True)
class Round:
    """One round: cycles/s of floor and bridge, command latencies (ms), bridge cycle (ms)."""

    floor_hz: float
    bridge_hz: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_samples: int
    commands_seen: int  # the others were replaced by the next before a frame carried them
    seen_p50_ms: float  # latency p50 of the commands carried by a frame themselves
    residual_p50_ms: float  # publish -> the next goal frame the client receives, p50
    late_share: float  # commands carried by the 3rd or a later frame received after publish
    cycle_during_commands_ms: float  # median
    # The same commands through the floor (plain rclpy subscription taken by its loop).
    floor_latency_p50_ms: float
    floor_latency_p99_ms: float
    floor_cycle_ms: float


def free_port() -> int:
    """Return a TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


async def dial(url: str) -> ClientConnection:
    """Connect, retrying until the server listens."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            return await connect(url, compression=None, max_size=4 << 20, ping_interval=None)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def cycles_per_second(url: str) -> float:
    """Sync as fast as the server answers; return cycles/s over RATE_WINDOW_S."""
    sim = ReachySim(SimOptions())
    async with await dial(url) as ws:
        clock = time.monotonic
        start = clock()
        counted_from = None
        count = 0
        while True:
            frame = await ws.recv()
            now = clock()
            await ws.send(sim.answer(frame, now))
            if counted_from is None:
                if now - start >= WARM_UP_S:
                    counted_from = now
            else:
                count += 1
                if now - counted_from >= RATE_WINDOW_S:
                    return count / (now - counted_from)


def antenna_goal(seq: int) -> float:
    """Return a distinct l_antenna goal (degrees, within its limits) for each command."""
    return -100.0 + (seq % 2000) * 0.1


@dataclass
class CommandRun:
    """Stamps of one command run, by command number (time.monotonic, seconds)."""

    sent: dict[int, float]  # just before publish
    seen: dict[int, float]  # when the client received the first goal frame carrying it
    received: list[float]  # every goal frame received meanwhile

    def latencies_ms(self) -> list[float]:
        """
        Return publish -> the client has it (or a later command), per command, in ms.

        A command replaced by the next one before any goal frame carried it (two commands
        within one cycle: a stalled publisher or bridge) counts until the frame that carried
        the later one: leaving it out would drop exactly the slow cases.
        """
        latencies = []
        landed = None
        for seq in sorted(self.sent, reverse=True):
            landed = self.seen.get(seq, landed)
            if landed is not None:
                latencies.append((landed - self.sent[seq]) * 1e3)
        return latencies

    def residual_ms(self) -> list[float]:
        """
        Return publish -> the next goal frame the client receives, per command, in ms.

        The lockstep's own share of the latency, with no bridge at all: a command waits for
        the cycle it falls into to end, and it falls more often into the long (stalled)
        cycles, so this is more than half the median cycle on a loaded machine.
        """
        times = self.received
        residuals = []
        for sent in self.sent.values():
            after = bisect.bisect_right(times, sent)
            if after < len(times):
                residuals.append((times[after] - sent) * 1e3)
        return residuals

    def late_share(self) -> float:
        """
        Return the share of commands carried by the 3rd or a later frame after publish.

        The first frame received after publish may have left before the command reached the
        bridge; the second is the first that surely could carry it (while the DDS hop is
        shorter than a cycle). Later means a frame left the bridge without it.
        """
        times = self.received
        late = [bisect.bisect_left(times, seen) - bisect.bisect_right(times, self.sent[seq])
                >= 2 for seq, seen in self.seen.items()]
        return sum(late) / len(late) if late else math.nan

    def cycle_p50_ms(self) -> float:
        """Return the median time between two goal frames meanwhile, in ms."""
        times = self.received
        return percentile([(b - a) * 1e3 for a, b in zip(times, times[1:])], 50)


async def drive_commands(url: str, commands: int = COMMANDS,
                         topic: str = f'{NAMESPACE}/joint_commands') -> CommandRun:
    """Sync with the server at ``url`` while publishing ``commands`` on ``topic``."""
    # The publishing thread shares this process with the busy client loop: without a short
    # GIL switch interval, a stamped command could wait up to 5 ms before it is published.
    sys.setswitchinterval(0.0005)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('reachy_bench_driver', context=context)
    try:
        publisher = node.create_publisher(JointState, topic, reliable(100))
        sim = ReachySim(SimOptions())
        sent: dict[int, float] = {}
        seen_at: dict[int, float] = {}
        done = threading.Event()

        def publish_paced() -> None:
            start = time.monotonic() + 0.2
            for seq in range(commands):
                delay = start + seq * COMMAND_PERIOD_S - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                msg = JointState(name=['l_antenna'],
                                 position=[math.radians(antenna_goal(seq))])
                sent[seq] = time.monotonic()
                publisher.publish(msg)
            done.set()

        async with await dial(url) as ws:
            deadline = time.monotonic() + CONNECT_TIMEOUT_S
            while publisher.get_subscription_count() < 1:
                if time.monotonic() > deadline:
                    raise TimeoutError('the bridge did not subscribe to joint_commands')
                await ws.send(sim.answer(await ws.recv(), time.monotonic()))
            settle = time.monotonic() + 0.5
            while time.monotonic() < settle:
                await ws.send(sim.answer(await ws.recv(), time.monotonic()))
            thread = threading.Thread(target=publish_paced, daemon=True)
            thread.start()
            seen = antenna_goal(-1)
            received: list[float] = []
            while not done.is_set() or time.monotonic() < (sent.get(commands - 1, 0) + 0.5):
                frame = await ws.recv()
                now = time.monotonic()
                await ws.send(sim.answer(frame, now))
                received.append(now)
                goal = sim.goals['head.left_antenna']
                if goal != seen:
                    seen = goal
                    seq = round((goal + 100.0) / 0.1)
                    if seq in sent:
                        seen_at[seq] = now
            thread.join(5)
        return CommandRun(sent, seen_at, received)
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


async def measure_round(workdir: Path) -> Round:
    """Floor rate, then bridge rate and command latency, from fresh processes."""
    workdir.mkdir()
    port = free_port()
    async with procs.running([*procs.bench_script('reachy_floor'), '--port', str(port)],
                             workdir / 'floor.log'):
        floor_hz = await cycles_per_second(f'ws://127.0.0.1:{port}')
    # The latency floor in a process of its own: the rate floor stays free of ROS.
    port = free_port()
    floor_topic = f'{NAMESPACE}_floor/joint_commands'
    async with procs.running([*procs.bench_script('reachy_floor'), '--port', str(port),
                              '--commands-topic', floor_topic], workdir / 'floor_ros.log'):
        floor_run = await drive_commands(f'ws://127.0.0.1:{port}', topic=floor_topic)
    floor_latencies = floor_run.latencies_ms()
    port = free_port()
    bridge_argv = [*procs.executable('reachy_bridge'), '--ros-args', '-r',
                   f'__ns:={NAMESPACE}', '-p', f'port:={port}']
    async with procs.running(bridge_argv, workdir / 'bridge.log') as bridge:
        url = f'ws://127.0.0.1:{port}'
        async with procs.profiled(bridge, f'reachy_{workdir.name}_bridge'):  # BENCH_PROFILE_DIR
            bridge_hz = await cycles_per_second(url)
        run = await drive_commands(url)
    latencies = run.latencies_ms()
    return Round(floor_hz, bridge_hz, percentile(latencies, 50), percentile(latencies, 99),
                 len(latencies), len(run.seen),
                 percentile([(t - run.sent[seq]) * 1e3 for seq, t in run.seen.items()], 50),
                 percentile(run.residual_ms(), 50), run.late_share(), run.cycle_p50_ms(),
                 percentile(floor_latencies, 50), percentile(floor_latencies, 99),
                 floor_run.cycle_p50_ms())


async def measure(workdir: Path, rounds: int) -> list[Round]:
    """Measure ``rounds`` rounds."""
    return [await measure_round(workdir / f'reachy_{n}') for n in range(rounds)]


def table(rounds: Sequence[Round]) -> tuple[str, bool]:
    """Render the round medians as markdown; say whether every target passed."""
    def median(field: str) -> float:
        return statistics.median(getattr(r, field) for r in rounds)

    floor_hz, bridge_hz = median('floor_hz'), median('bridge_hz')
    ratio = bridge_hz / floor_hz
    p50, p99, cycle = median('latency_p50_ms'), median('latency_p99_ms'), \
        median('cycle_during_commands_ms')
    floor_p50, floor_p99 = median('floor_latency_p50_ms'), median('floor_latency_p99_ms')
    floor_cycle = median('floor_cycle_ms')
    verdicts = (ratio >= RATE_RATIO_MIN, bridge_hz >= RATE_MIN_HZ,
                p50 < cycle + LATENCY_MARGIN_MS)

    def mark(ok: bool) -> str:
        return 'PASS' if ok else 'FAIL'

    lines = [
        '| Case | Sync cycles/s bridge / floor | Ratio (≥ 0.8) | Bridge ≥ 300/s | '
        'Command latency p50 / p99 ms | Cycle p50 ms meanwhile | p50 < cycle + 0.3 ms | '
        'Floor latency p50 / p99 ms (cycle) |',
        '|---|---|---|---|---|---|---|---|',
        f'| {NAME} | {bridge_hz:,.0f} / {floor_hz:,.0f} | {ratio:.2f} {mark(verdicts[0])} | '
        f'{mark(verdicts[1])} | {p50:.3f} / {p99:.3f} | {cycle:.3f} | {mark(verdicts[2])} | '
        f'{floor_p50:.3f} / {floor_p99:.3f} ({floor_cycle:.3f}) |',
        '',
        f'Reachy: median of {len(rounds)} rounds; per round floor/bridge cycles/s: ' +
        ', '.join(f'{r.floor_hz:.0f}/{r.bridge_hz:.0f}' for r in rounds) +
        '; latency samples (of them carried by a frame themselves, the others replaced by the '
        'next command first) per round: ' +
        ', '.join(f'{r.latency_samples} ({r.commands_seen})' for r in rounds) +
        '; p50 of the commands carried themselves only, per round (ms): ' +
        ', '.join(f'{r.seen_p50_ms:.3f}' for r in rounds) +
        "; publish -> next goal frame at the client (the lockstep's own wait, no bridge in "
        'it) p50 per round (ms): ' + ', '.join(f'{r.residual_p50_ms:.3f}' for r in rounds) +
        '; share of commands carried by the 3rd or a later frame after publish: ' +
        ', '.join(f'{r.late_share:.1%}' for r in rounds) + '. '
        f'Client: ReachySim in the driver process, full joint table, two 320x240 JPEG eyes '
        f'(about 5 kB each) and force values in every reply, uncapped; rate over '
        f'{RATE_WINDOW_S:.0f} s after {WARM_UP_S:.0f} s warm-up. The bridge publishes '
        'joint_states, both compressed eyes and both forces every cycle, with no subscriber '
        f'attached. Latency: {COMMANDS} joint_commands at 100 Hz, from just before publish '
        'to the client receiving the first goal frame that carries it (or a later command), '
        'same process and clock; cycle: median time between goal frames meanwhile. Floor '
        'latency: the same commands through reachy_floor --commands-topic (a plain rclpy '
        'subscription its loop takes right before each goal frame; no executor, no checks).',
    ]
    return '\n'.join(lines), all(verdicts)
