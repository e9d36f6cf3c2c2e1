"""
Bridge vs floor benchmark: latency at a paced 1 kHz and a 20,000-message burst.

For each case, two paths are measured in the same run with the same payload and process
layout, one after the other:

* bridge: load -> service -> bridge node (own process) -> subscriber (own process);
* floor: load -> service -> ``floor.py`` (raw websocket client republishing each frame as a
  std_msgs/String, own process) -> subscriber (own process);
* intake ceiling: ``ceiling.py`` (a plain rclpy publisher of the bridge's message type, paced)
  -> subscriber (own process), swept from slow to fast until the subscriber stops keeping up:
  the best delivered rate is what the subscriber takes when nobody outruns it.

The bridge's burst rate is judged against the ceiling of the same round, both as shipped and
paced (``max_publish_rate`` a little below that ceiling, as the README tells users). Bridges,
simulators and the ceiling's publisher run with the shipped DDS profile (``config/dds/``) as
the launch files start them; ``--dds-profile none`` runs the bridges and simulators without it
(the "before" of the README; the ceiling keeps it). The subscriber and the floor stand for a
user's nodes and always run on defaults.

Prints one markdown table (bridge / floor per figure, PASS/FAIL per target) and the machine.
Run through ``scripts/bench.sh [--rounds N] [case ...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
from pathlib import Path
import platform
import random
import subprocess
import sys
import tempfile
import time
from typing import Any, Awaitable, Callable, Protocol, Sequence, TypeVar

import dfx_case
import letsrobot_case
import letsrobot_video
from payload import BURST, END, PACED, WARM
import procs
import reachy_case
import robot_chat_case
from stats import CaseResult, ceiling_of, CeilingPoint, PathResult, table
import victor_case

T = TypeVar('T')

PACED_COUNT = 3000
PACED_PERIOD_S = 0.001
WARM_UP_DISCARD = 300
ROUNDS = 3
BURST_COUNT = 20_000
# Reliable KEEP_LAST history on both ends deep enough for the whole burst: nothing unread is
# ever overwritten, so a loss would be a real loss. (At the bridges' default depths, 1000 and
# 100, about half of a 20,000 burst is overwritten on the floor path and the bridge path alike.)
QOS_DEPTH = 25_000
FLOOR_TOPIC = '/bench/floor'
CEILING_TOPIC = '/bench/ceiling'
# The ceiling sweep: paced rates tried, slowest first, each for CEILING_SECONDS of messages;
# it stops at the first rate the subscriber did not keep up with (delivered < KEPT_UP x pace).
CEILING_RATES = (2000, 3000, 4000, 5000, 6500, 8000, 10_000, 13_000)
CEILING_SECONDS = 3.0
CEILING_KEPT_UP = 0.95
# The paced bridge run: max_publish_rate at this fraction of the round's ceiling (what the
# README tells a user to set: a little below what the subscriber takes).
PACED_FRACTION = 0.95
CONNECT_TIMEOUT_S = 20.0
MATCH_TIMEOUT_S = 20.0
REPORT_TIMEOUT_S = 60.0


class Load(Protocol):
    """The sending side of a case, connected to its service."""

    url: str
    hello: tuple[str, ...]

    async def send(self, phase: int, seq: int) -> None:
        """Stamp and send one message (on the event loop)."""

    async def wait_for_hop(self) -> None:
        """Return once the hop under test is connected to the service."""

    def bridge_argv(self, depth: int) -> list[str]:
        """Return the argv of the bridge under test, configured for this service."""


def available_cases() -> dict[str, Any]:
    """Cases by command-line name."""
    return {'robot_chat': robot_chat_case, 'victor': victor_case, 'letsrobot': letsrobot_case,
            'reachy': reachy_case, 'dfx': dfx_case, 'letsrobot_video': letsrobot_video}


class Subscriber:
    """The subscriber process's reports, read from its stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.ready = asyncio.Event()
        self._reports: dict[str, dict[str, Any]] = {}
        self._exited = False
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            async for line in self.process.stdout:
                event = json.loads(line)
                if event['event'] == 'ready':
                    self.ready.set()
                else:
                    async with self._changed:
                        self._reports[event['phase']] = event
                        self._changed.notify_all()
        finally:
            async with self._changed:
                self._exited = True
                self._changed.notify_all()

    async def report(self, phase: str, timeout: float) -> dict[str, Any]:
        """
        Wait for the phase's report; if it is late, stop the subscriber and take what it has.

        Raises RuntimeError if the subscriber exited without reporting the phase.
        """
        async def arrived() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: phase in self._reports or self._exited)

        try:
            await asyncio.wait_for(arrived(), timeout)
        except asyncio.TimeoutError:
            print(f'bench: no {phase} report after {timeout} s; stopping the subscriber',
                  file=sys.stderr)
            await procs.stop(self.process)
            await asyncio.wait_for(self._reader, procs.STOP_TIMEOUT_S)
        if phase not in self._reports:
            raise RuntimeError(f'the subscriber exited without a {phase} report')
        return self._reports[phase]


def pace(loop: asyncio.AbstractEventLoop, send: Callable[[int, int], Any], count: int) -> None:
    """
    Send ``count`` paced messages at absolute deadlines (no drift), from a thread.

    time.sleep is precise to tens of microseconds; the event loop's own timers round to
    whole milliseconds, which would send in clumps at 1 kHz.
    """
    start = time.monotonic() + 0.005
    last = None
    for seq in range(count):
        delay = start + seq * PACED_PERIOD_S - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        last = asyncio.run_coroutine_threadsafe(send(PACED, seq), loop)
    if last is not None:
        last.result(CONNECT_TIMEOUT_S)


async def measure_path(case: Any, logs: Path, bridge: bool,
                       max_publish_rate: float = 0.0) -> PathResult:
    """
    Measure one path of one case, from fresh processes; their logs go to ``logs``.

    ``max_publish_rate`` (bridge only) is passed to the bridge as that parameter.
    """
    logs.mkdir()
    kind, topic = (case.KIND, case.TOPIC) if bridge else (f'{case.KIND}_raw', FLOOR_TOPIC)
    subscriber_argv = [*procs.bench_script('subscriber'), '--kind', kind, '--topic', topic,
                       '--depth', str(QOS_DEPTH)]
    async with contextlib.AsyncExitStack() as stack:
        load = await stack.enter_async_context(case.load(logs))
        process = await stack.enter_async_context(
            procs.running(subscriber_argv, logs / 'subscriber.log', stdout_pipe=True,
                          own_core=True))
        subscriber = Subscriber(process)
        if bridge:
            hop_argv = load.bridge_argv(QOS_DEPTH)
            if max_publish_rate:
                hop_argv += ['-p', f'max_publish_rate:={max_publish_rate:.1f}']
        elif hasattr(load, 'floor_argv'):  # a service whose floor is not a websocket
            hop_argv = load.floor_argv(FLOOR_TOPIC, QOS_DEPTH)
        else:
            hop_argv = [*procs.bench_script('floor'), '--url', load.url, '--topic', FLOOR_TOPIC,
                        '--depth', str(QOS_DEPTH)]
            for frame in load.hello:
                hop_argv += ['--hello', frame]
        hop = await stack.enter_async_context(procs.running(hop_argv, logs / 'hop.log'))
        await bounded(load.wait_for_hop(), CONNECT_TIMEOUT_S, 'the hop to connect to the service')
        await bounded(warm_up(load, subscriber), MATCH_TIMEOUT_S,
                      'the subscriber to receive a warm-up message')
        await asyncio.to_thread(pace, asyncio.get_running_loop(), load.send, PACED_COUNT)
        await load.send(END, PACED)
        paced = await subscriber.report('paced', REPORT_TIMEOUT_S)
        cpu_before = procs.cpu_seconds(hop), procs.cpu_seconds(process), time.monotonic()
        async with procs.profiled(hop, logs.name):
            for seq in range(BURST_COUNT):
                await load.send(BURST, seq)
            await load.send(END, BURST)
            burst = await subscriber.report('burst', REPORT_TIMEOUT_S)
        hop_cpu_s, subscriber_cpu_s, wall_s = (
            now - then for now, then in zip(
                (procs.cpu_seconds(hop), procs.cpu_seconds(process), time.monotonic()),
                cpu_before))
    return PathResult.from_reports(paced, burst, WARM_UP_DISCARD, BURST_COUNT, hop_cpu_s,
                                   subscriber_cpu_s / wall_s)


async def measure_ceiling(case: Any, logs: Path) -> list[CeilingPoint]:
    """Sweep the paced rate until the subscriber stops keeping up; return every point."""
    points: list[CeilingPoint] = []
    for rate in CEILING_RATES:
        point = await measure_ceiling_point(case, logs / f'ceiling_{rate}', rate)
        points.append(point)
        if point.lost or point.delivered_rate < CEILING_KEPT_UP * rate:
            break
    return points


async def measure_ceiling_point(case: Any, logs: Path, rate: int) -> CeilingPoint:
    """One paced burst from ceiling.py to a fresh subscriber process."""
    logs.mkdir(parents=True)
    count = round(rate * CEILING_SECONDS)
    subscriber_argv = [*procs.bench_script('subscriber'), '--kind', case.KIND,
                       '--topic', CEILING_TOPIC, '--depth', str(QOS_DEPTH)]
    ceiling_argv = [*procs.bench_script('ceiling'), '--kind', case.KIND, '--topic',
                    CEILING_TOPIC, '--depth', str(QOS_DEPTH), '--period-us', str(1e6 / rate),
                    '--count', str(count)]
    async with contextlib.AsyncExitStack() as stack:
        process = await stack.enter_async_context(
            procs.running(subscriber_argv, logs / 'subscriber.log', stdout_pipe=True,
                          own_core=True))
        subscriber = Subscriber(process)
        await stack.enter_async_context(
            procs.running(ceiling_argv, logs / 'ceiling.log', with_dds_profile=True))
        await bounded(subscriber.ready.wait(), MATCH_TIMEOUT_S,
                      'the subscriber to receive a warm-up message from ceiling.py')
        burst = await subscriber.report('burst', REPORT_TIMEOUT_S)
    return CeilingPoint.from_report(rate, count, burst)


async def bounded(awaitable: Awaitable[T], timeout: float, what: str) -> T:
    """Await with a timeout; raises TimeoutError saying what did not happen."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise TimeoutError(f'timed out after {timeout} s waiting for {what}') from None


async def warm_up(load: Load, subscriber: Subscriber) -> None:
    """Send warm-up messages until the subscriber got one: the whole chain is matched."""
    seq = 0
    while not subscriber.ready.is_set():
        await load.send(WARM, seq)
        seq += 1
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(subscriber.ready.wait(), 0.05)


async def measure(names: Sequence[str], rounds: int) -> list[CaseResult]:
    """Measure every named case: floor then bridge, ``rounds`` times (noise hits both)."""
    cases = available_cases()
    results = []
    with tempfile.TemporaryDirectory(prefix='robot_bridges_bench_') as tmp:
        for name in names:
            case = cases[name]
            bridge_rounds, floor_rounds, ceiling_rounds = [], [], []
            paced_rounds, paced_rates = [], []
            try:
                for n in range(rounds):
                    sweep = await measure_ceiling(case, Path(tmp, f'{name}_{n}_ceiling'))
                    ceiling = ceiling_of(sweep)
                    if not math.isfinite(ceiling):
                        raise RuntimeError(f'no ceiling: every point lost messages ({sweep})')
                    ceiling_rounds.append(sweep)
                    floor_rounds.append(
                        await measure_path(case, Path(tmp, f'{name}_{n}_floor'), bridge=False))
                    bridge_rounds.append(
                        await measure_path(case, Path(tmp, f'{name}_{n}_bridge'), bridge=True))
                    paced_rates.append(round(PACED_FRACTION * ceiling, -1))
                    paced_rounds.append(await measure_path(
                        case, Path(tmp, f'{name}_{n}_paced'), bridge=True,
                        max_publish_rate=paced_rates[-1]))
            except Exception as exc:
                print(f'bench: {name} failed: {exc!r}; process logs:', file=sys.stderr)
                for log in sorted(Path(tmp).glob(f'{name}_*/**/*.log')):
                    tail = log.read_text(errors='replace').splitlines()[-15:]
                    print(f'--- {log.relative_to(tmp)}', *tail, sep='\n', file=sys.stderr)
                raise
            results.append(CaseResult(case.NAME, bridge_rounds, floor_rounds, ceiling_rounds,
                                      paced_rounds, paced_rates))
    return results


def machine() -> str:
    """CPU, cores, Python and ROS distribution of this run."""
    cpu = platform.processor() or 'unknown CPU'
    with contextlib.suppress(OSError), open('/proc/cpuinfo') as info:
        for line in info:
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    rmw = os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp (default)')
    return (f'{provenance()}; {cpu}, {os.cpu_count()} cores, '
            f'{platform.system()} {platform.release()}, '
            f'Python {platform.python_version()}, ROS 2 {os.environ.get("ROS_DISTRO", "?")}, '
            f'{rmw}, load average {os.getloadavg()[0]:.2f} at the end')


def cpu_layout() -> str:
    """Say where this run's processes ran."""
    split = procs.split_cores()
    if split is None:
        return 'shared (the scheduler places every process)'
    return (f'split: the subscriber alone on CPU {min(split[1])}, every other process on '
            f'CPU {", ".join(map(str, sorted(split[0])))}')


def provenance() -> str:
    """Return the date and the commit measured (with '+changes' for a dirty tree)."""
    root = os.environ.get('ROBOT_BRIDGES_ROOT', str(Path(__file__).resolve().parent.parent))
    try:
        commit = subprocess.run(['git', '-C', root, 'describe', '--always', '--dirty=+changes'],
                                capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ''
    return f'{time.strftime("%Y-%m-%d")}, commit {commit or "unknown"}'


def notes(results: Sequence[CaseResult], rounds: int) -> str:
    """Say how the figures were made, under the table."""
    return '\n'.join([
        f'Machine: {machine()}.',
        f'Each figure is the median of {rounds} rounds (floor, then bridge, from fresh '
        f'processes); losses are totals. Latency: one-way, send stamp to subscriber callback '
        f'(CLOCK_MONOTONIC), {PACED_COUNT:,} messages paced at 1 kHz per round, the first '
        f'{WARM_UP_DISCARD} discarded. Burst: {BURST_COUNT:,} messages per round sent as fast '
        'as the sender can; rate = delivered / (last - first arrival).',
        f'QoS: reliable, volatile, keep-last depth {QOS_DEPTH:,} on bridge/floor publisher '
        'and subscriber. Robot Chat: load client (driver process) -> relay (own process) -> '
        'hop -> subscriber; Victor: simulator (driver process) -> hop -> subscriber; every '
        'hop and subscriber is its own process, all on loopback.',
        'Floor: same sender and service, the bridge replaced by a raw websocket client that '
        'republishes each frame unparsed as std_msgs/String (plain rclpy publisher) to the '
        'same kind of subscriber process.',
        f'Ceiling: a plain rclpy publisher of the message type of the bridge, paced at '
        f'{", ".join(f"{r:,}" for r in CEILING_RATES)} msg/s ({CEILING_SECONDS:g} s of '
        'messages each, a fresh subscriber each), stopping at the first pace delivered below '
        f'{CEILING_KEPT_UP:.0%} of it; the ceiling is the best delivered rate without loss. '
        'Bridge / ceiling is the median of the per-round ratios. Measured first in each '
        'round, then floor, bridge (as shipped: no max_publish_rate) and the bridge paced '
        f'(max_publish_rate = {PACED_FRACTION:.0%} of the ceiling of the round, what the '
        'README tells users to set). Latency verdicts are those of the unpaced bridge; the '
        'burst rate is judged for both.',
        f'DDS profile of the bridges and simulators: {procs.profile_label()}; the ceiling '
        'publisher always runs with the shipped profile, the subscriber and the floor on '
        'Fast DDS defaults.',
        f'CPUs: {cpu_layout()}.',
        *(f'{case.name} burst, bridge / floor: hop process CPU {case.bridge.hop_cpu_us:.0f} / '
          f'{case.floor.hop_cpu_us:.0f} us per message; subscriber process CPU '
          f'{case.bridge.subscriber_busy:.0%} / {case.floor.subscriber_busy:.0%} of one core; '
          f'rounds: {case.spread()}.'
          for case in results),
        *(f'{case.name} ceiling sweeps (pace -> delivered msg/s): {case.sweeps()}; '
          f'max_publish_rate of the paced runs: '
          f'{", ".join(f"{rate:,.0f}" for rate in case.paced_rates)}; paced p50 '
          f'{case.paced.p50_ms:.3f} ms, p99 {case.paced.p99_ms:.3f} ms, hop CPU '
          f'{case.paced.hop_cpu_us:.0f} us per message, subscriber '
          f'{case.paced.subscriber_busy:.0%} busy.'
          for case in results),
    ])


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the chosen cases and print the table."""
    cases = available_cases()
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('cases', nargs='*', metavar='case',
                        help=f'case to run: {", ".join(cases)} (default: all)')
    parser.add_argument('--rounds', type=int, default=ROUNDS,
                        help=f'floor/bridge rounds per case (default: {ROUNDS})')
    parser.add_argument('--dds-profile', choices=('shipped', 'none'), default='shipped',
                        help='run the bridges and simulators with the shipped Fast DDS '
                             'profile (config/dds/, default) or without it')
    parser.add_argument('--cpus', choices=('shared', 'split'), default='shared',
                        help='shared (default): the scheduler places every process; split: '
                             'the subscriber alone on the last core, every other process on '
                             'the others (how much of a shortfall is CPU share)')
    args = parser.parse_args(argv)
    unknown = sorted(set(args.cases) - set(cases))
    if unknown:
        parser.error(f'unknown case {", ".join(unknown)}; choose from {", ".join(cases)}')
    if args.rounds < 1:
        parser.error('--rounds must be at least 1')
    os.environ[procs.PROFILE_VARIABLE] = args.dds_profile
    os.environ[procs.CPU_LAYOUT_VARIABLE] = args.cpus
    split = procs.split_cores()
    if split:  # the driver (and the services it runs) off the subscriber's core
        os.sched_setaffinity(0, split[0])
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(0, 101)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    chosen = args.cases or list(cases)
    # Reachy measures a lockstep loop, DFX a request/response round trip and
    # letsrobot_video a CPU share, not a message stream: each prints its own figures.
    streams = [name for name in chosen if name not in ('reachy', 'dfx', 'letsrobot_video')]
    passed = True
    try:
        if streams:
            results = asyncio.run(measure(streams, args.rounds))
            print(table(results))
            print()
            print(notes(results, args.rounds))
            passed = all(all(case.verdicts()) for case in results)
        if 'reachy' in chosen:
            with tempfile.TemporaryDirectory(prefix='robot_bridges_bench_') as tmp:
                rounds = asyncio.run(reachy_case.measure(Path(tmp), args.rounds))
            reachy_table, reachy_passed = reachy_case.table(rounds)
            print()
            print(reachy_table)
            print(f'Machine: {machine()}.')
            passed = passed and reachy_passed
        if 'dfx' in chosen:
            with tempfile.TemporaryDirectory(prefix='robot_bridges_bench_') as tmp:
                dfx_rounds = asyncio.run(dfx_case.measure(Path(tmp), args.rounds))
            dfx_table, dfx_passed = dfx_case.table(dfx_rounds)
            print()
            print(dfx_table)
            print(f'Machine: {machine()}.')
            passed = passed and dfx_passed
        if 'letsrobot_video' in chosen:
            with tempfile.TemporaryDirectory(prefix='robot_bridges_bench_') as tmp:
                video = asyncio.run(letsrobot_video.measure(Path(tmp)))
            print()
            print(letsrobot_video.table(video))
            print()
            print(letsrobot_video.notes(video))
            print(f'Machine: {machine()}.')
            passed = passed and video.passed
    except (TimeoutError, RuntimeError, OSError) as exc:
        print(f'bench: failed: {exc}', file=sys.stderr)
        return 2
    return 0 if passed else 1


if __name__ == '__main__':
    raise SystemExit(main())
