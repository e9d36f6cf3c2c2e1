"""
Processes the main job starts: output relayed with a label, and a bounded stop of them all.

Each child leads a process group of its own (a new session), so that stopping it also
reaches anything it started (ffmpeg under the LetsRobot bridge) and nothing is left behind.
"""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import threading
import time
from typing import Callable, Mapping, Sequence

from ament_index_python.packages import get_package_prefix
from robot_bridges.runtime.subprocess_supervisor import parent_death_signal


class Child:
    """One started process whose output lines are passed to ``write`` with its label."""

    def __init__(self, label: str, executable: str, args: Sequence[str],
                 write: Callable[[str], None], env: Mapping[str, str] | None = None) -> None:
        path = Path(get_package_prefix('robot_bridges')) / 'lib' / 'robot_bridges' / executable
        self.label = label
        self._write = write
        self.popen = subprocess.Popen(
            [str(path), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**(os.environ if env is None else env), 'PYTHONUNBUFFERED': '1'},
            start_new_session=True,
            # Killed by the kernel if the job itself dies without stopping them (SIGKILL).
            preexec_fn=parent_death_signal())
        threading.Thread(target=self._relay, daemon=True).start()
        write(f'{"main_job":>17} | started {label} (pid {self.popen.pid})')

    def _relay(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._write(f'{self.label:>17} | {line.rstrip()}')

    @property
    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.popen.poll() is None


def stop_children(children: Sequence[Child], timeout: float = 1.0) -> None:
    """
    SIGINT every child at once, wait at most ``timeout`` in all, then SIGKILL what is left.

    The kill goes to each child's whole process group, also when the child itself exited:
    a grandchild it failed to stop cannot outlive the job.
    """
    for child in children:
        if child.running:
            child.popen.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for child in children:
        try:
            os.killpg(child.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        child.popen.wait()
