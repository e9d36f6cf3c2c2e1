"""The real `ros2 launch` and `ros2` CLI as test subjects: start, watch, stop, leave nothing."""

from __future__ import annotations

import os
from pathlib import Path
import re
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any, Sequence
import uuid

import explain
from rcl_interfaces.srv import GetParameters
from rclpy.parameter import parameter_value_to_python
from ros_helpers import ProbeNode, wait_for

# Every process a launch starts (and theirs: ffmpeg) inherits this variable: found in
# /proc/<pid>/environ, it tells what the launch left behind, whoever reparented it.
MARKER = 'ROBOT_BRIDGES_LAUNCH_TEST'
#: launch's own escalation after a SIGINT (its sigterm_timeout 5 s + sigkill_timeout 10 s).
ESCALATION = r"failed to terminate '5' seconds after receiving 'SIGINT'"
LAUNCH_ESCALATION_S = 15.0 + 5.0
STARTED = re.compile(r'\[INFO\] \[([\w-]+)\]: process started with pid \[(\d+)\]')
FINISHED = re.compile(r'\[INFO\] \[([\w-]+)\]: process has finished cleanly \[pid (\d+)\]')
# launch forwards SIGINT with Popen.send_signal, which first polls (waitpid) the child: one
# that the group's own SIGINT already ended is reaped there, so asyncio's child watcher
# finds no child, says so, and reports 255 (CPython 3.9+, bpo-38630's poll; launch 3.7).
UNKNOWN_CHILD = re.compile(r'Unknown child process pid (\d+), will report returncode 255')
DIED_UNKNOWN = re.compile(r'\[ERROR\] \[([\w-]+)\]: process has died \[pid (\d+), exit code 255,')


class Launch:
    """One ``ros2 launch robot_bridges <file> <arguments>`` in a process group of its own."""

    _cwd = tempfile.mkdtemp(prefix='robot_bridges_launch_')

    def __init__(self, env: dict[str, str], launch_file: str, *arguments: str) -> None:
        self.name = launch_file
        self.marker = uuid.uuid4().hex
        if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
            # Started in the background of a script: an ignored SIGINT would be inherited
            # by launch and make every interrupt below a no-op. A handler is not inherited.
            signal.signal(signal.SIGINT, signal.default_int_handler)
        # A temporary directory of its own: what launch leaves there is seen (temp_files).
        self.tmpdir = Path(tempfile.mkdtemp(prefix='robot_bridges_launch_tmp_'))
        child_env = {**env, MARKER: self.marker, 'PYTHONUNBUFFERED': '1',
                     'RCUTILS_COLORIZED_OUTPUT': '0', 'TMPDIR': str(self.tmpdir)}
        child_env.pop('DFX_TOKEN', None)  # sim:=true must make one up (issue #22, point 2)
        self.started_at = time.monotonic()
        self._lines: list[str] = []
        # stdin is not a terminal: launch is non-interactive and forwards SIGINT itself.
        self._popen = subprocess.Popen(
            ['ros2', 'launch', 'robot_bridges', launch_file, *arguments], cwd=self._cwd,
            env=child_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        explain.track(self)

    def explain(self) -> str:
        """Return launch's exit code (or 'running') and the last lines of it and its processes."""
        return explain.describe_process(f'ros2 launch {self.name}', self._popen, self._lines,
                                        ' '.join(self._popen.args), self.started_at, count=80)

    def _read(self) -> None:
        assert self._popen.stdout is not None
        for line in self._popen.stdout:
            self._lines.append(line.rstrip('\n'))

    @property
    def output(self) -> str:
        """Everything launch and its processes printed so far."""
        return '\n'.join(self._lines)

    def lines(self, pattern: str) -> list[str]:
        """Return the printed lines that match ``pattern``."""
        regex = re.compile(pattern)
        return [line for line in list(self._lines) if regex.search(line)]

    def started(self) -> dict[str, int]:
        """Return the pid of every process launch started, by its launch name (``x-1``)."""
        return {m.group(1): int(m.group(2)) for m in map(STARTED.search, list(self._lines))
                if m}

    def wait_output(self, pattern: str, timeout: float) -> None:
        """Wait until a printed line matches ``pattern``."""
        def found() -> bool:
            if self.lines(pattern):
                return True
            assert self._popen.poll() is None, f'{self.name} exited:\n{self.output[-4000:]}'
            return False
        wait_for(found, timeout, f'{self.name} to print {pattern!r}')

    def interrupt(self, times: int) -> None:
        """
        SIGINT launch as a supervisor would; ``times`` > 1 signals its whole process group.

        Once: to launch alone, which forwards it to every process. Twice: to the group, so
        every process gets one from the group and one forwarded by launch, then another.
        """
        if times == 1:
            self._popen.send_signal(signal.SIGINT)
            return
        for n in range(times):
            if n:
                time.sleep(0.3)
                if not self.left_behind():
                    # Everything stopped already and launch is finishing: it may have put
                    # back Python's own SIGINT handler, so one more would end it by a
                    # KeyboardInterrupt (exit -2), which is launch's doing, not the bridges'.
                    print(f'LAUNCH {self.name}: all stopped before SIGINT {n + 1} of {times}')
                    return
            try:
                os.killpg(self._popen.pid, signal.SIGINT)
            except ProcessLookupError:
                return

    def wait_exit(self, timeout: float) -> int:
        """
        Wait for launch to end (it waits for its processes); kill all after ``timeout``.

        launch 3.7 has a race of its own: a process that exits while launch handles its
        shutdown (a group SIGINT reaches both at once) still gets launch's SIGTERM and SIGKILL
        timers, and launch waits them out (5 + 10 s) though the process ended cleanly. Only
        then, and only for that, is launch given those 15 s more; every process must still
        have ended within ``timeout``.
        """
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            left, escalated = self.left_behind(), bool(self.lines(ESCALATION))
            waited = timeout
            if not left and escalated:
                try:
                    return self._popen.wait(LAUNCH_ESCALATION_S)
                except subprocess.TimeoutExpired:
                    waited += LAUNCH_ESCALATION_S
                    left = self.left_behind()
            # What was still there, and why launch was (or was not) given more time.
            state = (f'processes of this launch still alive: {command_lines_of(left) or "none"}; '
                     f"launch's escalation timers {'seen' if escalated else 'not seen'}")
            self.kill()
            raise AssertionError(f'{self.name} still running {waited} s after SIGINT ({state}):'
                                 f'\n{self.output[-4000:]}') from None
        finally:
            self._reader.join(5)

    def kill(self) -> None:
        """SIGKILL everything this launch started (the teardown of a failed test)."""
        for pid in [self._popen.pid, *self.left_behind()]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._popen.wait(5)

    def left_behind(self) -> list[int]:
        """Return the live processes (not zombies) that carry this launch's marker."""
        wanted = f'{MARKER}={self.marker}'.encode()
        found = []
        for entry in Path('/proc').iterdir():
            if not entry.name.isdigit() or int(entry.name) == self._popen.pid:
                continue
            try:
                if wanted not in (entry / 'environ').read_bytes().split(b'\0'):
                    continue
                state = (entry / 'stat').read_text().rsplit(')', 1)[1].split()[0]
            except OSError:
                continue  # gone meanwhile, or not ours to read
            if state != 'Z':
                found.append(int(entry.name))
        return found

    def assert_stopped_cleanly(self, code: int) -> None:
        """Launch exited 0, every process it started finished cleanly, none is left."""
        out = self.output
        assert code == 0, f'{self.name}: exit code {code}\n{out[-4000:]}'
        started = self.started()
        finished, reaped = ended(self._lines)
        assert started and set(started) == finished | set(reaped), \
            f'{self.name}: not finished cleanly: {set(started) - finished}\n{out[-4000:]}'
        if reaped:
            print(f"LAUNCH {self.name}: exit code lost to launch's own reaping: {sorted(reaped)}")
        rest = '\n'.join(line for line in self._lines if line not in reaped.values())
        for bad in ('process has died', 'Traceback', 'KeyboardInterrupt'):
            assert bad not in rest, f'{self.name}: {bad!r} in the output:\n{out[-4000:]}'
        assert not self.left_behind(), f'{self.name}: left behind {self.left_behind()}'
        assert not self.temp_files(), f'{self.name}: left {self.temp_files()} (secrets)'

    def temp_files(self) -> list[str]:
        """Return the container params files launch wrote (values that may be secrets)."""
        return sorted(p.name for p in self.tmpdir.glob('robot_bridges_container_*'))


def ended(lines: Sequence[str]) -> tuple[set[str], dict[str, str]]:
    """
    Return the processes launch saw finish cleanly, and those launch reaped itself.

    The second maps each name to its "process has died ... exit code 255" line: the exit
    code was lost (UNKNOWN_CHILD said so for that pid), not bad; the caller checks the
    process is gone and printed no traceback.
    """
    finished = {m.group(1) for m in map(FINISHED.search, lines) if m}
    unknown = {m.group(1) for m in map(UNKNOWN_CHILD.search, lines) if m}
    reaped = {m.group(1): line for line in lines
              if (m := DIED_UNKNOWN.search(line)) and m.group(2) in unknown}
    return finished, reaped


def ros2(env: dict[str, str], *args: str, check: bool = True, timeout: float = 60.0) -> str:
    """
    Run the ``ros2`` command line; return its output (``check``: fail unless exit 0).

    A run that a signal ended is tried once more (``ros2 param describe`` was seen to end
    with SIGSEGV once, on a machine at load 10; not traced further).
    """
    for attempt in range(2):
        result = subprocess.run(['ros2', *args], env=env, capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL, cwd=Launch._cwd)
        if result.returncode >= 0:
            break
        tail = (result.stdout + result.stderr)[-200:].replace('\n', ' ')
        print(f'LAUNCH ros2 {" ".join(args)}: ended by signal {-result.returncode}'
              f'{", trying again" if not attempt else ""}; its output ended: {tail!r}')
    out = result.stdout + result.stderr
    assert result.returncode == 0 or not check, \
        f'ros2 {" ".join(args)}: exit {result.returncode}\n{out}'
    return out


def get_parameters(ros: ProbeNode, node_fqn: str, names: Sequence[str]) -> dict[str, Any]:
    """Return the node's current values of ``names`` (its get_parameters service)."""
    response = ros.call(GetParameters, f'{node_fqn}/get_parameters',
                        GetParameters.Request(names=list(names)), timeout=20.0)
    return {name: parameter_value_to_python(value)
            for name, value in zip(names, response.values)}


def command_lines_of(pids: Sequence[int]) -> list[str]:
    """Return each live process's command line (for assertion messages)."""
    lines = []
    for pid in pids:
        try:
            lines.append(Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ')
                         .decode(errors='replace')[:200])
        except OSError:
            pass
    return lines
