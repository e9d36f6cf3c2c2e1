"""
Where a Reachy joint command's latency goes: a stamp at every stage, p50/p90/p99 per stage.

``python3 bench/reachy_trace.py [--commands N] [--rounds R] [--against OLD_reachy_bridge.py]``
(from an environment where the package is built, e.g. after ``. scripts/setup.sh``) starts
reachy_bridge in a child process with stamps added around it (a subclass, a timed wait set
and a traced outbox sender; the bridge's own code is unchanged), then drives it exactly like
the benchmark case: ReachySim in this process, uncapped, and N ``joint_commands`` at 100 Hz.
``--against`` traces another version of reachy_bridge.py before the installed one in every
round (an A/B comparison under the same machine load) and prints the medians of both.

Stages of one command, all on CLOCK_MONOTONIC (one clock for every process of the host; the
DDS write/receive stamps, system clock, are moved onto it with the offset read in the bridge
process): publish (driver stamp, then ``publish``) -> DDS write -> DDS receive -> [executor
path: the executor's wait returns -> the subscription callback runs -> ``call_soon`` done]
-> ``_set_goals`` on the loop -> goal frame encoded -> the reply that releases it arrives ->
its send begins -> the client has it. Also: how many commands went out in the first goal
frame sent after their DDS receive (the best a lockstep loop can do).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import importlib.util
import json
import math
import os
from pathlib import Path
import statistics
import sys
import tempfile
import time
from typing import Any, Sequence

import procs
from rclpy import executors
from rclpy.subscription import Subscription
import reachy_case
from robot_bridges.bridges import reachy_bridge as installed_bridge
from robot_bridges.runtime.link import Frame
from stats import percentile
from websockets.exceptions import ConnectionClosed

ANTENNA = 'l_antenna'


def seq_of(degrees: float) -> int:
    """Return the command number whose ``l_antenna`` goal is ``degrees``."""
    return round((degrees + 100.0) / 0.1)


# -- the bridge process -------------------------------------------------------------------


def run_traced_bridge(out: Path, bridge_file: str, ros_args: Sequence[str]) -> int:
    """
    Run reachy_bridge with stamps; write them to ``out`` as JSON when it stops.

    ``bridge_file``: '' for the installed bridge, else the path of another version of
    reachy_bridge.py (an A/B comparison under the same load).
    """
    bridge: Any = installed_bridge
    if bridge_file:
        spec = importlib.util.spec_from_file_location('reachy_bridge_other', bridge_file)
        assert spec is not None and spec.loader is not None
        bridge = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bridge)

    clock = time.monotonic
    stamps: dict[str, dict[int, float]] = {key: {} for key in (
        'source', 'received', 'woke', 'callback', 'queued', 'set', 'encoded', 'reply',
        'sent')}
    # Per cycle: reply arrived, next goal frame's send begins, published (reply done).
    cycles: list[list[float]] = []
    published = [0]
    last_wake = [0.0]
    real_wait_set = executors._rclpy.WaitSet

    class TimedWaitSet(real_wait_set):  # type: ignore[misc, valid-type]
        def wait(self, timeout: int) -> None:
            super().wait(timeout)
            last_wake[0] = clock()

    class RclpyWithTimedWaitSet:
        def __getattr__(self, name: str) -> Any:
            return TimedWaitSet if name == 'WaitSet' else getattr(executors_rclpy, name)

    executors_rclpy = executors._rclpy
    executors._rclpy = RclpyWithTimedWaitSet()
    # System clock (DDS stamps) minus monotonic, read twice to bound the error.
    offset_ns = (time.time_ns() - time.monotonic_ns() + time.time_ns() -
                 time.monotonic_ns()) // 2

    class TracedBridge(bridge.ReachyBridge):
        def setup(self) -> None:
            super().setup()
            self._antenna = self._command_index[ANTENNA]
            self._traced_frame: tuple[Frame, int] | None = None
            command_sub = getattr(self, '_command_sub', None)
            if command_sub is not None:
                command_sub.take = lambda: self._traced_take(command_sub.subscription)
            for entity in self._entities:
                if command_sub is None and isinstance(entity, Subscription) and \
                        entity.topic_name.endswith('/joint_commands'):
                    guarded = entity.callback

                    def with_info(msg: Any, info: Any, guarded: Any = guarded) -> None:
                        seq = self._stamp_arrival(msg, info)
                        stamps['woke'][seq] = last_wake[0]
                        guarded(msg)
                        stamps['queued'][seq] = clock()
                    entity.callback = with_info
            server = self._server
            assert server is not None

            async def traced_drain(connection: Any) -> None:
                async def send(frame: Frame) -> None:
                    # Stamped before: the write wakes the client, which may preempt us.
                    now = clock()
                    if cycles and len(cycles[-1]) == 1:
                        cycles[-1].append(now)
                    traced = self._traced_frame
                    if traced is not None and traced[0] is frame:
                        stamps['sent'].setdefault(traced[1], now)
                        if cycles:
                            stamps['reply'].setdefault(traced[1], cycles[-1][0])
                    await connection.send(frame)
                try:
                    await server.outbox.drain(send, self.link_sent)
                except ConnectionClosed:
                    pass
            server._drain = traced_drain  # type: ignore[method-assign]

        def _stamp_arrival(self, msg: Any, info: Any) -> int:
            now = clock()
            seq = seq_of(math.degrees(msg.position[0]))
            stamps['callback'][seq] = now
            stamps['source'][seq] = (info['source_timestamp'] - offset_ns) / 1e9
            stamps['received'][seq] = (info['received_timestamp'] - offset_ns) / 1e9
            return seq

        def _traced_take(self, subscription: Any) -> int:
            # LoopSubscription.take, keeping the message info (DDS stamps) it drops.
            taken = 0
            handle = subscription.handle
            with handle:
                while True:
                    message = handle.take_message(subscription.msg_type, subscription.raw)
                    if message is None:
                        return taken
                    taken += 1
                    self._stamp_arrival(*message)
                    self._on_command(message[0])

        def _set_goals(self, goals: list[tuple[int, float]]) -> None:
            now = clock()
            for index, degrees in goals:
                if index == self._antenna:
                    stamps['set'][seq_of(degrees)] = now
            super()._set_goals(goals)

        def link_frame(self, frame: Frame) -> None:
            cycles.append([clock()])
            super().link_frame(frame)

        def _next_goal_frame(self) -> Frame:
            before = self._goal_frame
            encoded = super()._next_goal_frame()
            if encoded is not before:
                seq = seq_of(self._goals[self._antenna])
                stamps['encoded'].setdefault(seq, clock())
                self._traced_frame = (encoded, seq)
            return encoded

        def _publish(self, reply: Any, now: float) -> None:
            super()._publish(reply, now)
            if published[0] < len(cycles):
                cycles[published[0]][1:] = [*cycles[published[0]][1:2], clock()]
            published[0] += 1

    try:
        sys.setswitchinterval(bridge.GIL_SWITCH_INTERVAL_S)
        return bridge.run_bridge(TracedBridge, ['reachy_bridge', *ros_args])
    finally:
        out.write_text(json.dumps({'stamps': stamps, 'cycles': cycles}))


# -- the driver ---------------------------------------------------------------------------


STAGES = (
    ('publish call', 'publish', 'source'),
    ('DDS write -> receive', 'source', 'received'),
    ('receive -> executor wait returns', 'received', 'woke'),
    ('wait returned -> callback', 'woke', 'callback'),
    ('callback -> call_soon done', 'callback', 'queued'),
    ('call_soon -> _set_goals on the loop', 'queued', 'set'),
    ('receive -> callback runs (any thread)', 'received', 'callback'),
    ('_set_goals -> goal frame encoded', 'set', 'encoded'),
    ('_set_goals -> next reply arrives', 'set', 'reply'),
    ('next reply -> goal frame send begins', 'reply', 'sent'),
    ('send begins -> client has it', 'sent', 'seen'),
    ('total: publish -> client has it', 'publish', 'seen'),
    ('publish -> _set_goals (ROS side)', 'publish', 'set'),
)


async def trace(commands: int, workdir: Path,
                bridge_file: str = '') -> tuple[str, dict[str, float]]:
    """Run the traced bridge and the driver; return the stage table and its p50s (ms)."""
    port = reachy_case.free_port()
    out = workdir / 'stamps.json'
    argv = [*procs.bench_script('reachy_trace'), 'bridge', str(out), bridge_file,
            '--ros-args', '-r',
            f'__ns:={reachy_case.NAMESPACE}', '-p', f'port:={port}']
    async with procs.running(argv, workdir / 'bridge.log'):
        run = await reachy_case.drive_commands(f'ws://127.0.0.1:{port}', commands)
    data = json.loads(out.read_text())
    stamps = {key: {int(seq): value for seq, value in by_seq.items()}
              for key, by_seq in data['stamps'].items()}
    stamps['publish'] = run.sent
    stamps['seen'] = run.seen
    latencies = run.latencies_ms()
    figures = {'latency p50 (replaced ones included)': percentile(latencies, 50),
               'latency p99 (replaced ones included)': percentile(latencies, 99),
               'median cycle': run.cycle_p50_ms(),
               'commands carried by a frame themselves': float(len(run.seen))}
    lines = [f'{len(run.seen)} of {commands} commands carried by a frame themselves; median '
             f'cycle {run.cycle_p50_ms():.3f} ms meanwhile; latency with the replaced ones '
             f'(until the later command lands) p50 {percentile(latencies, 50):.3f} ms, p99 '
             f'{percentile(latencies, 99):.3f} ms, n {len(latencies)}',
             f'{"stage":44} {"n":>4} {"p50 ms":>8} {"p90 ms":>8} {"p99 ms":>8}']
    for title, start, end in STAGES:
        deltas = [(stamps[end][seq] - stamps[start][seq]) * 1e3
                  for seq in run.seen if seq in stamps[start] and seq in stamps[end]]
        if not deltas:
            continue  # a stage of the other command path
        lines.append(f'{title:44} {len(deltas):>4} {percentile(deltas, 50):8.3f} '
                     f'{percentile(deltas, 90):8.3f} {percentile(deltas, 99):8.3f}')
        figures[f'p50 {title}'] = percentile(deltas, 50)
    cycles = [c for c in data['cycles'] if len(c) == 3]
    periods = [(b[0] - a[0]) * 1e3 for a, b in zip(cycles, cycles[1:])]

    # The best a lockstep loop can do: the first goal frame whose send begins after the
    # command reached the bridge's DDS reader carries it. How many frames later did it go?
    sends = sorted(c[1] for c in cycles)
    late = []
    for seq in run.seen:
        if seq in stamps['received'] and seq in stamps['sent']:
            first = bisect.bisect_left(sends, stamps['received'][seq])
            late.append(bisect.bisect_left(sends, stamps['sent'][seq]) - first)
    if late:
        on_time = sum(1 for n in late if n <= 0) / len(late)
        figures['carried by the first frame sent after DDS receive (fraction)'] = on_time
        lines.append(f'carried by the first goal frame sent after the DDS receive: '
                     f'{on_time:.0%} of {len(late)}; frames later p90 '
                     f'{percentile([float(n) for n in late], 90):.0f}, max {max(late)}')

    def spread(values: list[float]) -> str:
        return f'p50 {percentile(values, 50):.3f} ms, p99 {percentile(values, 99):.3f} ms'
    lines.append(f"bridge cycle {spread(periods)}; reply -> next frame's send begins "
                 f'{spread([(c[1] - c[0]) * 1e3 for c in cycles])}; reply -> published '
                 f'{spread([(c[2] - c[0]) * 1e3 for c in cycles])}')
    load = os.getloadavg()
    figures['load average (1 min)'] = load[0]
    lines.append(f'load average {" ".join(f"{v:.2f}" for v in load)}')
    return '\n'.join(lines), figures


def main(argv: Sequence[str] | None = None) -> int:
    """Trace (default) or, as the child, run the traced bridge."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['bridge']:
        return run_traced_bridge(Path(argv[1]), argv[2], argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--commands', type=int, default=reachy_case.COMMANDS)
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--against', default='', metavar='REACHY_BRIDGE_PY',
                        help='another version of reachy_bridge.py: each round traces it, '
                        'then the installed one (A/B under the same load)')
    args = parser.parse_args(argv)
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    versions = [('installed', '')]
    if args.against:
        versions.insert(0, (args.against, str(Path(args.against).resolve())))
    rounds: dict[str, list[dict[str, float]]] = {title: [] for title, _ in versions}
    for n in range(args.rounds):
        for title, bridge_file in versions:
            with tempfile.TemporaryDirectory(prefix='reachy_trace_') as tmp:
                text, figures = asyncio.run(trace(args.commands, Path(tmp), bridge_file))
            rounds[title].append(figures)
            print(f'## round {n + 1}: {title}\n{text}\n', flush=True)
    print(f'## median over {args.rounds} rounds (ms, but for the counts and the load)')
    for title, figures in rounds.items():
        print(f'# {title}')
        for key in figures[0]:
            values = [f[key] for f in figures if key in f]
            print(f'{key:52} {statistics.median(values):9.3f}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
