"""
Footprint of the main job's six bridges: one container process vs one process each.

Runs the main job (every simulator, the bridges, its drivers) once per form for
``--duration`` seconds and samples the bridge processes only (the container, or the six
``*_bridge`` processes): resident memory and threads at the end, CPU % of one core over the
last ``--window`` seconds; and the CPU of the main job's own process (its printer, live view
and demo drivers) over the same window, with the line printer and, in the one-process form,
with the live view too (drawn to /dev/null as to a terminal). Prints one markdown table.
``scripts/bench.sh footprint``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time
from typing import Sequence

from robot_bridges.bridges.registry import BRIDGES

TICKS = os.sysconf('SC_CLK_TCK')
BRIDGE_PROGRAMS = {*BRIDGES, 'robot_bridges_container'}


def bridge_pids(job: int) -> list[int]:
    """Return the pids of the job's children that run a bridge program."""
    pids = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / 'stat').read_text().rpartition(')')[2].split()[1])
            argv = (entry / 'cmdline').read_bytes().split(b'\0')
        except (OSError, IndexError, ValueError):
            continue
        # The ROS wheels re-execute every Python start once: the program is argv[1] then.
        programs = {Path(a.decode()).name for a in argv[:2]}
        if ppid == job and programs & BRIDGE_PROGRAMS:
            pids.append(int(entry.name))
    return pids


def sample(pids: Sequence[int]) -> tuple[int, int, int]:
    """Return RSS bytes, threads and CPU ticks (user + system) summed over ``pids``."""
    rss = threads = ticks = 0
    for pid in pids:
        status = Path(f'/proc/{pid}/status').read_text()
        for line in status.splitlines():
            if line.startswith('VmRSS:'):
                rss += int(line.split()[1]) * 1024
            elif line.startswith('Threads:'):
                threads += int(line.split()[1])
        fields = Path(f'/proc/{pid}/stat').read_text().rpartition(')')[2].split()
        ticks += int(fields[11]) + int(fields[12])
    return rss, threads, ticks


def measure(single_process: bool, live: bool, duration: float, window: float
            ) -> dict[str, float]:
    """Run the main job in one form; return the bridges' figures and the job's own CPU."""
    form = '--single-process' if single_process else '--no-single-process'
    job = subprocess.Popen([sys.executable, '-m', 'robot_bridges.tools.main_job',
                            '--live' if live else '--lines', form,
                            '--duration', str(duration + 5)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(duration - window)
        pids = bridge_pids(job.pid)
        _, _, ticks_before = sample(pids)
        _, _, job_ticks_before = sample([job.pid])
        started = time.monotonic()
        time.sleep(window)
        rss, threads, ticks = sample(pids)
        _, _, job_ticks = sample([job.pid])
        elapsed = time.monotonic() - started
        cpu = 100.0 * (ticks - ticks_before) / TICKS / elapsed
        job_cpu = 100.0 * (job_ticks - job_ticks_before) / TICKS / elapsed
        if job.poll() is not None:
            raise SystemExit(f'the main job ({form}) ended early: exit code {job.returncode}')
    finally:
        job.wait(60)
    return {'processes': len(pids), 'rss_mib': rss / 2**20, 'threads': threads, 'cpu': cpu,
            'job_cpu': job_cpu}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scripts/bench.sh footprint``."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--duration', type=float, default=60.0,
                        help='seconds from start to the sample (default 60)')
    parser.add_argument('--window', type=float, default=30.0,
                        help='seconds of CPU time measured before the sample (default 30)')
    args = parser.parse_args(argv)
    # The simulators' fixed ports: take turns with test runs, as their fixture does.
    with open(Path(tempfile.gettempdir()) / 'robot_bridges_fixed_ports.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = [('one process (robot_bridges_container)', 'lines',
                 measure(True, False, args.duration, args.window)),
                ('six processes', 'lines', measure(False, False, args.duration, args.window)),
                ('one process (robot_bridges_container)', 'live view',
                 measure(True, True, args.duration, args.window))]
    print(f'| six bridges of the main job, after {args.duration:g} s | processes | RSS MiB '
          f'| threads | CPU % of one core (last {args.window:g} s) '
          "| the job's own process: output, CPU % |")
    print('|---|---:|---:|---:|---:|---|')
    for label, output, row in rows:
        print(f'| {label} | {row["processes"]:.0f} | {row["rss_mib"]:.0f} | '
              f'{row["threads"]:.0f} | {row["cpu"]:.1f} | {output}, {row["job_cpu"]:.1f} |')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
