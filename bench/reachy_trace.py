"""
Where a Reachy joint command's latency goes: a stamp at every stage, p50/p90/p99 per stage.

``python3 bench/reachy_trace.py [--commands N]`` (from an environment where the package is
built, e.g. after ``. scripts/setup.sh``) starts reachy_bridge in a child process with stamps
added around it (a subclass and a timed wait set; the bridge's own code is unchanged), then
drives it exactly like the benchmark case: ReachySim in this process, uncapped, and N
``joint_commands`` at 100 Hz. Stages of one command, all on CLOCK_MONOTONIC (one clock for
every process of the host; the DDS write/receive stamps, system clock, are moved onto it
with the offset read in the bridge process):

publish (driver stamp, then ``publish``) -> DDS write -> DDS receive -> the executor's wait
returns -> the subscription callback runs -> ``call_soon`` done -> ``_set_goals`` on the loop
-> the next reply arrives (the goal frame is encoded) -> ``send`` done -> the client has it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
from pathlib import Path
import sys
import tempfile
import time
from typing import Any, Sequence

import procs
import reachy_case
from stats import percentile

ANTENNA = 'l_antenna'


def seq_of(degrees: float) -> int:
    """Return the command number whose ``l_antenna`` goal is ``degrees``."""
    return round((degrees + 100.0) / 0.1)


# -- the bridge process -------------------------------------------------------------------


def run_traced_bridge(out: Path, ros_args: Sequence[str]) -> int:
    """Run reachy_bridge with stamps; write them to ``out`` as JSON when it stops."""
    from rclpy import executors
    from rclpy.subscription import Subscription
    from robot_bridges.bridges import reachy_bridge
    from robot_bridges.runtime.link import Frame
    from websockets.exceptions import ConnectionClosed

    clock = time.monotonic
    stamps: dict[str, dict[int, float]] = {key: {} for key in (
        'source', 'received', 'woke', 'callback', 'queued', 'set', 'reply', 'sent')}
    cycles: list[tuple[float, float]] = []  # (reply arrived, its publishing done)
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

    class TracedBridge(reachy_bridge.ReachyBridge):
        def setup(self) -> None:
            super().setup()
            self._antenna = self._command_index[ANTENNA]
            self._traced_frame: tuple[Frame, int] | None = None
            for entity in self._entities:
                if isinstance(entity, Subscription) and entity.topic_name.endswith(
                        '/joint_commands'):
                    guarded = entity.callback

                    def with_info(msg: Any, info: Any, guarded: Any = guarded) -> None:
                        now = clock()
                        seq = seq_of(math.degrees(msg.position[0]))
                        stamps['woke'][seq] = last_wake[0]
                        stamps['callback'][seq] = now
                        stamps['source'][seq] = (info['source_timestamp'] - offset_ns) / 1e9
                        stamps['received'][seq] = (info['received_timestamp'] - offset_ns) / 1e9
                        guarded(msg)
                        stamps['queued'][seq] = clock()
                    entity.callback = with_info
            server = self._server
            assert server is not None

            async def traced_drain(connection: Any) -> None:
                async def send(frame: Frame) -> None:
                    await connection.send(frame)
                    traced = self._traced_frame
                    if traced is not None and traced[0] is frame:
                        stamps['sent'].setdefault(traced[1], clock())
                try:
                    await server.outbox.drain(send, self.link_sent)
                except ConnectionClosed:
                    pass
            server._drain = traced_drain  # type: ignore[method-assign]

        def _set_goals(self, goals: list[tuple[int, float]]) -> None:
            now = clock()
            for index, degrees in goals:
                if index == self._antenna:
                    stamps['set'][seq_of(degrees)] = now
            super()._set_goals(goals)

        def link_frame(self, frame: Frame) -> None:
            now = clock()
            fresh = self._goal_frame is None
            super().link_frame(frame)
            if fresh and self._goal_frame is not None:
                seq = seq_of(self._goals[self._antenna])
                stamps['reply'].setdefault(seq, now)
                self._traced_frame = (self._goal_frame, seq)

        def _publish(self, reply: Any, now: float) -> None:
            super()._publish(reply, now)
            cycles.append((now, clock()))

    try:
        sys.setswitchinterval(reachy_bridge.GIL_SWITCH_INTERVAL_S)
        return reachy_bridge.run_bridge(TracedBridge, ['reachy_bridge', *ros_args])
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
    ('_set_goals -> next reply (frame encoded)', 'set', 'reply'),
    ('reply -> goal frame sent', 'reply', 'sent'),
    ('sent -> client has it', 'sent', 'seen'),
    ('total: publish -> client has it', 'publish', 'seen'),
    ('publish -> _set_goals (ROS side)', 'publish', 'set'),
)


async def trace(commands: int, workdir: Path) -> str:
    """Run the traced bridge and the driver; return the stage table as text."""
    port = reachy_case.free_port()
    out = workdir / 'stamps.json'
    argv = [*procs.bench_script('reachy_trace'), 'bridge', str(out), '--ros-args', '-r',
            f'__ns:={reachy_case.NAMESPACE}', '-p', f'port:={port}']
    async with procs.running(argv, workdir / 'bridge.log'):
        run = await reachy_case.drive_commands(f'ws://127.0.0.1:{port}', commands)
    data = json.loads(out.read_text())
    stamps = {key: {int(seq): value for seq, value in by_seq.items()}
              for key, by_seq in data['stamps'].items()}
    stamps['publish'] = run.sent
    stamps['seen'] = run.seen
    lines = [f'{len(run.seen)} of {commands} commands seen; mean cycle '
             f'{run.elapsed_s / run.cycles * 1e3:.3f} ms meanwhile',
             f'{"stage":44} {"n":>4} {"p50 ms":>8} {"p90 ms":>8} {"p99 ms":>8}']
    for title, start, end in STAGES:
        deltas = [(stamps[end][seq] - stamps[start][seq]) * 1e3
                  for seq in run.seen if seq in stamps[start] and seq in stamps[end]]
        lines.append(f'{title:44} {len(deltas):>4} {percentile(deltas, 50):8.3f} '
                     f'{percentile(deltas, 90):8.3f} {percentile(deltas, 99):8.3f}')
    cycles = data['cycles']
    periods = [(b[0] - a[0]) * 1e3 for a, b in zip(cycles, cycles[1:])]
    busy = [(done - arrived) * 1e3 for arrived, done in cycles]
    lines.append(f'bridge cycle p50 {percentile(periods, 50):.3f} ms, p99 '
                 f'{percentile(periods, 99):.3f} ms; reply -> published p50 '
                 f'{percentile(busy, 50):.3f} ms, p99 {percentile(busy, 99):.3f} ms')
    lines.append(f'load average {" ".join(f"{v:.2f}" for v in os.getloadavg())}')
    return '\n'.join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Trace (default) or, as the child, run the traced bridge."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['bridge']:
        return run_traced_bridge(Path(argv[1]), argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--commands', type=int, default=reachy_case.COMMANDS)
    parser.add_argument('--rounds', type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    for n in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix='reachy_trace_') as tmp:
            print(asyncio.run(trace(args.commands, Path(tmp))), flush=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
