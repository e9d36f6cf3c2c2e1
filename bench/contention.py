"""
The 1 kHz message streams under CPU contention: floor and bridge while busy loops hold every core.

For each round and each stream case (Victor, Robot Chat, LetsRobot), the floor path and then
the bridge path run the paced phase of ``run.py`` (3,000 messages at 1 kHz, the first 300
discarded) while ``--hogs`` busy loops (default: one per core, normal priority) compete for
the CPU with every process of the run. Prints p50 / p99 / max of both paths per round and
the median over rounds, judged against the target: bridge p50 at most floor p50 + 1 ms.
Also the hop process's CPU per message, and, for a round whose worst latency passed 20 ms,
the shape of that excursion: the longest gap between two arrivals (a stall) and every 10th
latency around the worst (a backlog that drains, or one that holds).
``--hog-kind bursty`` makes the busy loops sleep 1 ms after every 2 ms of work, so that they
wake as often as the hops do (see HOG_KINDS).

``scripts/bench.sh contention [--rounds N] [--hogs N] [--hog-kind steady|bursty] [case ...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass
import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator, Sequence

from payload import END, PACED
import procs
import run
from stats import percentile

P50_MARGIN_MS = 1.0
CASES = ('victor', 'robot_chat', 'letsrobot')
HOG = """
import os, sys, time
parent = os.getppid()
busy_s, sleep_s = float(sys.argv[1]), float(sys.argv[2])
while os.getppid() == parent:
    end = time.perf_counter() + busy_s
    while time.perf_counter() < end:
        pass
    if sleep_s:
        time.sleep(sleep_s)
"""
# A steady hog never sleeps. The scheduler ranks a task that wakes from a sleep ahead of one
# that has been running (EEVDF lag, CFS's wake-up credit), so the hops, which wait for every
# message, preempt it at once: steady hogs barely delay a stream. A bursty hog (2 ms of work,
# then 1 ms asleep, over and over) wakes as often as they do and competes on equal terms,
# as the processes of a test run do.
HOG_KINDS = {'steady': (0.5, 0.0), 'bursty': (0.002, 0.001)}


@dataclass(frozen=True)
class Paced:
    """One path's paced phase: latency percentiles and the hop's CPU per message."""

    p50_ms: float
    p99_ms: float
    max_ms: float
    last_ms: float  # the latency of the last message: what backlog was left at the end
    hop_cpu_us: float
    # The longest time between two arrivals, taking the sends as 1 ms apart: a stall of the
    # path (nothing delivered while it lasted) shows here; a slow drain of a backlog does not.
    gap_ms: float = float('nan')
    # Around the worst message, one latency in ten (ms): the shape of an excursion.
    trace: tuple[float, ...] = ()

    @classmethod
    def from_report(cls, report: dict[str, Any], hop_cpu_s: float) -> Paced:
        """Build from the subscriber's paced report (the warm-up samples dropped)."""
        latencies = [ns / 1e6 for ns in report['latencies_ns'][run.WARM_UP_DISCARD:]]
        worst = max(range(len(latencies)), key=latencies.__getitem__, default=0)
        return cls(percentile(latencies, 50), percentile(latencies, 99),
                   max(latencies, default=float('nan')),
                   latencies[-1] if latencies else float('nan'),
                   hop_cpu_s / run.PACED_COUNT * 1e6,
                   max((1.0 + b - a for a, b in zip(latencies, latencies[1:])),
                       default=float('nan')),
                   tuple(latencies[max(0, worst - 300):worst + 300:10]))

    def excursion(self) -> str:
        """Describe the worst stretch when it stands out (max over 20 ms), else ''."""
        if not self.max_ms > 20.0:
            return ''
        return (f'; excursion: longest arrival gap {self.gap_ms:.1f} ms, every 10th latency '
                f'around the worst: {" ".join(f"{ms:.0f}" for ms in self.trace)}')


@contextlib.contextmanager
def hogs(count: int, kind: str = 'steady') -> Iterator[list[int]]:
    """Keep ``count`` busy loops running (each leaves if this process dies) for the block."""
    busy_s, sleep_s = HOG_KINDS[kind]
    children = [subprocess.Popen([sys.executable, '-c', HOG, str(busy_s), str(sleep_s)])
                for _ in range(count)]
    try:
        yield [child.pid for child in children]
    finally:
        for child in children:
            child.kill()
        for child in children:
            child.wait()


async def measure_paced(case: Any, logs: Path, bridge: bool) -> Paced:
    """Run one path's paced phase from fresh processes (as run.measure_path does)."""
    logs.mkdir()
    kind, topic = (case.KIND, case.TOPIC) if bridge else (f'{case.KIND}_raw', run.FLOOR_TOPIC)
    subscriber_argv = [*procs.bench_script('subscriber'), '--kind', kind, '--topic', topic,
                       '--depth', str(run.QOS_DEPTH)]
    async with contextlib.AsyncExitStack() as stack:
        load = await stack.enter_async_context(case.load(logs))
        process = await stack.enter_async_context(
            procs.running(subscriber_argv, logs / 'subscriber.log', stdout_pipe=True))
        subscriber = run.Subscriber(process)
        if bridge:
            hop_argv = load.bridge_argv(run.QOS_DEPTH)
        elif hasattr(load, 'floor_argv'):  # a service whose floor is not a websocket
            hop_argv = load.floor_argv(run.FLOOR_TOPIC, run.QOS_DEPTH)
        else:
            hop_argv = [*procs.bench_script('floor'), '--url', load.url, '--topic',
                        run.FLOOR_TOPIC, '--depth', str(run.QOS_DEPTH)]
            for frame in load.hello:
                hop_argv += ['--hello', frame]
        hop = await stack.enter_async_context(procs.running(hop_argv, logs / 'hop.log'))
        await run.bounded(load.wait_for_hop(), run.CONNECT_TIMEOUT_S,
                          'the hop to connect to the service')
        await run.bounded(run.warm_up(load, subscriber), run.MATCH_TIMEOUT_S,
                          'the subscriber to receive a warm-up message')
        cpu_before = procs.cpu_seconds(hop)
        async with procs.profiled(hop, f'contention_{logs.name}'):  # BENCH_PROFILE_DIR
            await asyncio.to_thread(run.pace, asyncio.get_running_loop(), load.send,
                                    run.PACED_COUNT)
        await load.send(END, PACED)
        report = await subscriber.report('paced', run.REPORT_TIMEOUT_S)
        hop_cpu_s = procs.cpu_seconds(hop) - cpu_before
    return Paced.from_report(report, hop_cpu_s)


async def measure(names: Sequence[str], rounds: int, hog_count: int, hog_kind: str = 'steady'
                  ) -> dict[str, list[tuple[Paced, Paced]]]:
    """Return, per case, (floor, bridge) of every round, all measured under the hogs."""
    cases = run.available_cases()
    results: dict[str, list[tuple[Paced, Paced]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix='robot_bridges_contention_') as tmp, \
            hogs(hog_count, hog_kind):
        for n in range(rounds):
            for name in names:
                case = cases[name]
                try:
                    floor = await measure_paced(case, Path(tmp, f'{name}_{n}_floor'), False)
                    bridge = await measure_paced(case, Path(tmp, f'{name}_{n}_bridge'), True)
                except Exception as exc:
                    print(f'contention: {name} failed: {exc!r}; process logs:', file=sys.stderr)
                    for log in sorted(Path(tmp).glob(f'{name}_{n}_*/*.log')):
                        tail = log.read_text(errors='replace').splitlines()[-15:]
                        print(f'--- {log.relative_to(tmp)}', *tail, sep='\n', file=sys.stderr)
                    raise
                results[name].append((floor, bridge))
                print(f'contention: round {n + 1} {name}: floor p50 {floor.p50_ms:.3f} '
                      f'p99 {floor.p99_ms:.2f} ms; bridge p50 {bridge.p50_ms:.3f} '
                      f'p99 {bridge.p99_ms:.2f} max {bridge.max_ms:.1f} ms'
                      f'{floor.excursion() and " (floor" + floor.excursion() + ")"}'
                      f'{bridge.excursion()}', file=sys.stderr, flush=True)
    return results


def table(results: dict[str, list[tuple[Paced, Paced]]]) -> tuple[str, bool]:
    """Build the markdown table and the verdict: medians over rounds, every round listed."""
    cases = run.available_cases()
    lines = ['| Case | p50 ms bridge / floor | p50 Δ (≤ +1 ms) | p99 ms bridge / floor | '
             'max ms bridge / floor | hop CPU µs/msg bridge / floor | rounds: bridge p50 / p99 |',
             '|---|---|---|---|---|---|---|']
    passed = True
    for name, pairs in results.items():
        def median(path: int, field: str) -> float:
            return statistics.median(getattr(pair[path], field) for pair in pairs)

        delta = median(1, 'p50_ms') - median(0, 'p50_ms')
        ok = delta <= P50_MARGIN_MS
        passed = passed and ok
        spread = ', '.join(f'{b.p50_ms:.2f} / {b.p99_ms:.1f}' for _, b in pairs)
        lines.append(
            f'| {cases[name].NAME} | {median(1, "p50_ms"):.3f} / {median(0, "p50_ms"):.3f} | '
            f'{delta:+.3f} {"PASS" if ok else "FAIL"} | '
            f'{median(1, "p99_ms"):.2f} / {median(0, "p99_ms"):.2f} | '
            f'{median(1, "max_ms"):.1f} / {median(0, "max_ms"):.1f} | '
            f'{median(1, "hop_cpu_us"):.0f} / {median(0, "hop_cpu_us"):.0f} | {spread} |')
    return '\n'.join(lines), passed


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the chosen cases under the hogs and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('cases', nargs='*', metavar='case',
                        help=f'case to run: {", ".join(CASES)} (default: all)')
    parser.add_argument('--rounds', type=int, default=3, help='rounds (default: 3)')
    parser.add_argument('--hogs', type=int, default=os.cpu_count() or 2,
                        help='busy loops (default: one per core)')
    parser.add_argument('--hog-kind', choices=sorted(HOG_KINDS), default='steady',
                        help='steady: never sleeps; bursty: 2 ms busy, 1 ms asleep, again')
    args = parser.parse_args(argv)
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f'unknown case {", ".join(unknown)}; choose from {", ".join(CASES)}')
    os.environ.setdefault(procs.PROFILE_VARIABLE, 'shipped')
    started = time.monotonic()
    try:
        results = asyncio.run(measure(args.cases or list(CASES), args.rounds, args.hogs,
                                      args.hog_kind))
    except (TimeoutError, RuntimeError, OSError) as exc:
        print(f'contention: failed: {exc}', file=sys.stderr)
        return 2
    text, passed = table(results)
    print(text)
    print()
    print(f'Machine: {run.machine()}. {args.hogs} {args.hog_kind} busy loops at normal '
          f'priority for the whole run; per round and case the floor, then the bridge, '
          f'{run.PACED_COUNT:,} messages at 1 kHz each (the first {run.WARM_UP_DISCARD} '
          f'discarded); medians of {args.rounds} rounds; {time.monotonic() - started:.0f} s.')
    return 0 if passed else 1


if __name__ == '__main__':
    raise SystemExit(main())
