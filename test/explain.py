"""
What a failing test shows of the parts it started: processes, proxies, rigs.

Anything with an ``explain() -> str`` registers itself with :func:`track` when it is made
(:class:`ros_helpers.Proc` does, and so do :class:`fault_proxy.FaultProxy` and the fault
matrix's rigs). When a test fails, conftest's report hook appends :func:`explain_all` to the
failure: the last lines of every process the test started, with its exit code, and the state
of each fixture. The registry is emptied before every test.
"""

from __future__ import annotations

import subprocess
import time
from typing import Protocol

#: The last lines shown of a process's output, and the longest line shown whole.
TAIL_LINES = 40
LINE_CHARS = 300
#: Each part's explanation is cut to this, keeping its end.
PART_CHARS = 6000


class Explainer(Protocol):
    """Something a failing test should describe."""

    def explain(self) -> str:
        """Return a few lines on its state (no secrets: they go to the CI log)."""


_tracked: list[Explainer] = []


def track(part: Explainer) -> None:
    """Describe ``part`` if the test running now fails."""
    _tracked.append(part)


def reset() -> None:
    """Forget what earlier tests started."""
    _tracked.clear()


def tail(lines: list[str], count: int = TAIL_LINES) -> str:
    """Return the last ``count`` lines, each cut to LINE_CHARS, with how many were left out."""
    shown = [line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + ' [...]'
             for line in lines[-count:]]
    skipped = len(lines) - len(shown)
    return '\n'.join(([f'[... {skipped} earlier lines]'] if skipped > 0 else []) + shown)


def describe_process(name: str, popen: subprocess.Popen[str], lines: list[str],
                     command: str = '', started: float | None = None,
                     count: int = TAIL_LINES) -> str:
    """Return a process's header (pid, exit code or 'running', age, command) and last lines."""
    code = popen.poll()
    state = 'running' if code is None else f'exit code {code}'
    age = f', started {time.monotonic() - started:.1f} s ago' if started is not None else ''
    return (f'--- process {name} (pid {popen.pid}, {state}{age}): {command[:400]}\n'
            f'{tail(list(lines), count) or "(no output)"}')


def explain_all() -> str:
    """Return the explanation of everything tracked ('' when nothing was)."""
    parts = []
    for part in list(_tracked):
        try:
            text = part.explain()
        except Exception as exc:  # noqa: B902 - the failure report must still be written
            text = f'{type(part).__name__}: explain() raised {exc!r}'
        parts.append(text if len(text) <= PART_CHARS else '[...]' + text[-PART_CHARS:])
    return '\n\n'.join(parts)
