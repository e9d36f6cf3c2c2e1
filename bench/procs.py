"""Child processes of the benchmark: started from the install, always stopped, logs kept."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
import signal
import sys
from typing import AsyncIterator, Sequence

from ament_index_python.packages import get_package_prefix

BENCH_DIR = Path(__file__).resolve().parent
STOP_TIMEOUT_S = 3.0
LINE_LIMIT = 1 << 24  # a subscriber report is one line of a few hundred kilobytes
_CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


def executable(name: str) -> list[str]:
    """Return the argv of an installed robot_bridges executable, as `ros2 run` starts it."""
    return [str(Path(get_package_prefix('robot_bridges')) / 'lib' / 'robot_bridges' / name)]


def bench_script(name: str) -> list[str]:
    """Return the argv of one of the bench's own scripts, run by this interpreter."""
    return [sys.executable, str(BENCH_DIR / f'{name}.py')]


def cpu_seconds(process: asyncio.subprocess.Process) -> float:
    """Return the CPU time (user + system) the process has used so far, from /proc."""
    return pid_cpu_seconds(process.pid)


def pid_cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) process ``pid`` has used so far, from /proc."""
    with open(f'/proc/{pid}/stat') as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@contextlib.asynccontextmanager
async def running(argv: Sequence[str], log: Path, *,
                  stdout_pipe: bool = False) -> AsyncIterator[asyncio.subprocess.Process]:
    """
    Run ``argv`` for the duration of the block: SIGINT on exit, SIGKILL if it lingers.

    stderr (and stdout unless piped) goes to ``log``; the working directory is the log's
    folder, never the source tree (it would shadow the built package).
    """
    with open(log, 'ab') as sink:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=log.parent, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if stdout_pipe else sink, stderr=sink, limit=LINE_LIMIT,
            env={**os.environ, 'PYTHONUNBUFFERED': '1', 'RCUTILS_COLORIZED_OUTPUT': '0'})
    try:
        yield process
    finally:
        await stop(process)


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGINT, then SIGKILL after a grace period; returns once the process is gone."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
