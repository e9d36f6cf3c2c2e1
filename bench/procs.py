"""Child processes of the benchmark: started from the install, always stopped, logs kept."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
import signal
import sys
from typing import AsyncIterator, Callable, Sequence

from ament_index_python.packages import get_package_prefix, get_package_share_directory
from robot_bridges.dds_profile import profile_environment, VARIABLES, with_profile

BENCH_DIR = Path(__file__).resolve().parent
STOP_TIMEOUT_S = 3.0
LINE_LIMIT = 1 << 24  # a subscriber report is one line of a few hundred kilobytes
_CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


# ``--dds-profile`` of run.py, inherited by every process of the run: ``shipped`` (default)
# or ``none`` (the "before" of the README's high-rate table).
PROFILE_VARIABLE = 'BENCH_DDS_PROFILE'


def executable(name: str) -> list[str]:
    """Return the argv of an installed robot_bridges executable, as `ros2 run` starts it."""
    return [str(_lib_dir() / name)]


def _lib_dir() -> Path:
    return Path(get_package_prefix('robot_bridges')) / 'lib' / 'robot_bridges'


def _profile_wanted() -> bool:
    return os.environ.get(PROFILE_VARIABLE, 'shipped') != 'none'


def profile_label() -> str:
    """Say which DDS profile the package's executables get in this run."""
    if not _profile_wanted():
        return 'none (Fast DDS defaults)'
    added = profile_environment({'ROS_DISTRO': os.environ.get('ROS_DISTRO', '')},
                                get_package_share_directory('robot_bridges'))
    return ', '.join(f'{name}={Path(path).name}' for name, path in added.items())


def environment(argv: Sequence[str], with_dds_profile: bool = False) -> dict[str, str]:
    """
    Return the environment of a child process.

    The package's own executables (bridges, simulators) get the shipped DDS profile, as its
    launch files and main job start them, unless the run says ``none`` (then Fast DDS
    defaults). A script started ``with_dds_profile`` (the ceiling's publisher, which must
    measure the subscriber's intake, not a writer's collapse) always gets it, so "before"
    and "after" runs share one ceiling. The other bench scripts (subscribers, floors) stand
    for the user's nodes: Fast DDS defaults, whatever profile this shell names.
    """
    env = {name: value for name, value in os.environ.items() if name not in VARIABLES}
    env.update(PYTHONUNBUFFERED='1', RCUTILS_COLORIZED_OUTPUT='0')
    if with_dds_profile or (_profile_wanted() and Path(argv[0]).parent == _lib_dir()):
        return with_profile(env, get_package_share_directory('robot_bridges'))
    return env


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
async def running(argv: Sequence[str], log: Path, *, stdout_pipe: bool = False,
                  with_dds_profile: bool = False,
                  own_core: bool = False) -> AsyncIterator[asyncio.subprocess.Process]:
    """
    Run ``argv`` for the duration of the block: SIGINT on exit, SIGKILL if it lingers.

    stderr (and stdout unless piped) goes to ``log``; the working directory is the log's
    folder, never the source tree (it would shadow the built package). ``own_core``: the
    subscriber's core in a split run (see :data:`CPU_LAYOUT_VARIABLE`).
    """
    with open(log, 'ab') as sink:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=log.parent, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if stdout_pipe else sink, stderr=sink, limit=LINE_LIMIT,
            env=environment(argv, with_dds_profile), preexec_fn=_pinning(own_core))
    try:
        yield process
    finally:
        await stop(process)


# ``--cpus`` of run.py, inherited like the profile: ``shared`` (default: the scheduler places
# every process) or ``split``: the subscriber alone on the last core, every other process of
# the run (driver, service, hop, ceiling publisher) on the others. It shows how much of a
# shortfall is the subscriber's share of the CPU rather than what the writer does.
CPU_LAYOUT_VARIABLE = 'BENCH_CPU_LAYOUT'


# The cores this run may use, before run.py moves the driver off the subscriber's.
_CPUS = sorted(os.sched_getaffinity(0))


def split_cores() -> tuple[set[int], set[int]] | None:
    """Return (everything else's cores, the subscriber's core) in a split run, else None."""
    if os.environ.get(CPU_LAYOUT_VARIABLE) != 'split' or len(_CPUS) < 2:
        return None
    return set(_CPUS[:-1]), {_CPUS[-1]}


def _pinning(own_core: bool) -> Callable[[], None] | None:
    split = split_cores()
    if split is None:
        return None
    cpus = split[1] if own_core else split[0]
    return lambda: os.sched_setaffinity(0, cpus)


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


# ``BENCH_PROFILE_DIR``: when set, every hop (bridge or floor) is sampled by py-spy during its
# burst (``BENCH_PY_SPY``: the py-spy program, default ``py-spy``), and the collapsed stacks
# go to ``<dir>/<path>.txt`` (e.g. ``victor_0_bridge.txt``); ``bench/profile_summary.py``
# reads them. The sampling costs the machine a little CPU: figures of such a run are not
# the benchmark's.
PROFILE_DIR_VARIABLE = 'BENCH_PROFILE_DIR'


@contextlib.asynccontextmanager
async def profiled(process: asyncio.subprocess.Process, name: str) -> AsyncIterator[None]:
    """Sample ``process`` (and its children) with py-spy for the block, if asked to."""
    folder = os.environ.get(PROFILE_DIR_VARIABLE)
    if not folder:
        yield
        return
    out = Path(folder, f'{name}.txt')
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = await asyncio.create_subprocess_exec(
        os.environ.get('BENCH_PY_SPY', 'py-spy'), 'record', '--pid', str(process.pid),
        '--subprocesses', '--rate', '250', '--format', 'raw', '--output', str(out),
        '--nonblocking', stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        await stop(spy)
