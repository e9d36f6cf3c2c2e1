r"""
Keep one child process running (ffmpeg streaming LetsRobot video or audio).

The child is started with :func:`asyncio.create_subprocess_exec` (no shell), restarted with
backoff whenever it exits while the supervisor is running, and stopped with SIGTERM, then
SIGKILL after a timeout. Every child is waited for, so none is left a zombie.

The command line of a streamer holds its stream key (``http://relay:port/<key>/w/h/``): every
text that leaves this module (output lines, errors, :attr:`SubprocessSupervisor.display_command`)
has the ``secrets`` replaced by ``***``. Never log ``argv`` yourself.

ffmpeg rewrites its progress line with carriage returns; output is split on both ``\r`` and
``\n``, and an over-long line is cut, so a chatty child can neither block on a full pipe nor
grow memory. Pass ``-nostats -loglevel warning`` to ffmpeg to keep its stderr meaningful.
"""

from __future__ import annotations

import asyncio
import codecs
from collections import deque
import ctypes
import os
import shlex
import signal
from typing import Callable, Protocol, Sequence

from robot_bridges.runtime.backoff import Backoff, sleep_unless
from robot_bridges.runtime.redact import describe_exception, redact

MAX_LINE_CHARS = 2000
_READ_CHUNK = 4096
_PR_SET_PDEATHSIG = 1


class ProcessListener(Protocol):
    """Callbacks a :class:`SubprocessSupervisor` makes, always on the asyncio loop thread."""

    def process_started(self, pid: int) -> None:
        """Hear that a child was started (again) with this process id."""

    def process_output(self, line: str) -> None:
        """Take one line the child wrote to stdout, secrets redacted. Must not block."""

    def process_exited(self, returncode: int, reason: str) -> None:
        """
        Hear that the child ended; ``reason`` (redacted) says how, with its last stderr line.

        ``returncode`` is negative when a signal ended it. The supervisor restarts the child
        after a backoff delay unless :meth:`SubprocessSupervisor.close` was called.
        """

    def process_error(self, what: str) -> None:
        """Hear that the child could not be started (program missing); it is retried."""


class SubprocessSupervisor:
    """
    Run ``argv`` for the lifetime of :meth:`run`, restarting it whenever it exits.

    Use it from the asyncio loop thread only. ``stop_timeout_s`` is how long :meth:`close`
    waits after SIGTERM before SIGKILL. A child that ran for ``healthy_after_s`` or longer
    counts as a success: the next restart starts again from the shortest backoff delay.
    With ``pipe_stdin`` the child's stdin is a pipe (:attr:`stdin`), otherwise /dev/null.
    With ``die_with_parent`` (Linux) the kernel sends the child SIGKILL when the thread that
    started it ends, even if this process is killed with SIGKILL and cleans nothing up.
    """

    def __init__(self, argv: Sequence[str], listener: ProcessListener,
                 backoff: Backoff, secrets: Sequence[str] = (), *,
                 stderr_lines: int = 20, stop_timeout_s: float = 2.0,
                 healthy_after_s: float = 10.0, pipe_stdin: bool = False,
                 die_with_parent: bool = False) -> None:
        if not argv:
            raise ValueError('argv must name a program')
        if stderr_lines < 1:
            raise ValueError(f'stderr_lines must be at least 1, got {stderr_lines}')
        if stop_timeout_s <= 0.0:
            raise ValueError(f'stop_timeout_s must be positive, got {stop_timeout_s}')
        self._argv = tuple(argv)
        self._listener = listener
        self._backoff = backoff
        self._secrets = tuple(s for s in secrets if s)
        self._stderr: deque[str] = deque(maxlen=stderr_lines)
        self._stop_timeout_s = stop_timeout_s
        self._healthy_after_s = healthy_after_s
        self._pipe_stdin = pipe_stdin
        self._preexec = parent_death_signal() if die_with_parent else None
        self._process: asyncio.subprocess.Process | None = None
        self._closed = asyncio.Event()
        self.starts = 0

    @property
    def display_command(self) -> str:
        """Return the command line with every secret replaced by ``***``: safe for logs."""
        return self._redact(shlex.join(self._argv))

    @property
    def running(self) -> bool:
        """Whether a child is alive right now."""
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        """Return the current child's process id, or None."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def stdin(self) -> asyncio.StreamWriter | None:
        """Return the current child's stdin when ``pipe_stdin`` was asked for, else None."""
        return self._process.stdin if self.running and self._process is not None else None

    @property
    def last_error(self) -> str:
        """Return the child's last stderr lines (redacted), oldest first, one per line."""
        return '\n'.join(self._stderr)

    async def run(self) -> None:
        """
        Start the child and keep it running until :meth:`close` or cancellation.

        Never raises for the child's failures: they go to the listener. On cancellation the
        child is stopped (SIGTERM, then SIGKILL) before the cancellation propagates. May be
        called again after it returned.
        """
        self._closed.clear()
        loop = asyncio.get_running_loop()
        delays = self._backoff.delays()
        while not self._closed.is_set():
            started_at = loop.time()
            await self._run_once()
            if self._closed.is_set():
                return
            if loop.time() - started_at >= self._healthy_after_s:
                delays = self._backoff.delays()
            await sleep_unless(self._closed, next(delays))

    async def close(self) -> None:
        """
        Stop restarting and stop the child: SIGTERM, then SIGKILL after the timeout.

        Returns once the child has been waited for (no zombie remains).
        """
        self._closed.set()
        process = self._process
        if process is not None:
            await self._stop(process)

    async def _run_once(self) -> None:
        listener = self._listener
        try:
            process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.PIPE if self._pipe_stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                preexec_fn=self._preexec,
            )
        except OSError as exc:
            listener.process_error(
                self._redact(f'cannot start {self._argv[0]}: {describe_exception(exc)}'))
            return
        self._process = process
        self.starts += 1
        listener.process_started(process.pid)
        try:
            if self._closed.is_set():  # close() came while the child was being started
                await self._stop(process)
            assert process.stdout is not None and process.stderr is not None
            await asyncio.gather(
                self._read_lines(process.stdout, listener.process_output),
                self._read_lines(process.stderr, self._stderr.append),
            )
            returncode = await process.wait()
        finally:
            # Reached on cancellation too: the child must not outlive its supervisor.
            await self._stop(process)
        listener.process_exited(returncode, self._exit_reason(returncode))

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        try:
            if process.returncode is None:
                _signal(process, signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), self._stop_timeout_s)
                except asyncio.TimeoutError:
                    pass
        finally:
            # Also reached when cancelled while waiting: SIGKILL cannot be ignored, and
            # asyncio's child watcher reaps the child, so it leaves no zombie and no orphan.
            if process.returncode is None:
                _signal(process, signal.SIGKILL)
            if self._process is process:
                self._process = None
        await process.wait()

    async def _read_lines(self, stream: asyncio.StreamReader,
                          deliver: Callable[[str], None]) -> None:
        decoder = codecs.getincrementaldecoder('utf-8')(errors='replace')
        pending = ''
        while True:
            chunk = await stream.read(_READ_CHUNK)
            if not chunk:
                break
            pending += decoder.decode(chunk)
            *lines, pending = _split_lines(pending)
            for line in lines:
                deliver(self._redact(line)[:MAX_LINE_CHARS])
            if len(pending) > MAX_LINE_CHARS:
                deliver(self._redact(pending)[:MAX_LINE_CHARS])
                pending = ''
        if pending.strip():
            deliver(self._redact(pending)[:MAX_LINE_CHARS])

    def _exit_reason(self, returncode: int) -> str:
        if returncode < 0:
            try:
                how = f'killed by {signal.Signals(-returncode).name}'
            except ValueError:
                how = f'killed by signal {-returncode}'
        else:
            how = f'exited with code {returncode}'
        last = self._stderr[-1] if self._stderr else ''
        return f'{how}: {last}' if last else how

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


def parent_death_signal() -> Callable[[], None] | None:
    """
    Return a pre-exec hook asking Linux to SIGKILL the child when its parent thread ends.

    None where prctl does not exist. The hook runs in the forked child before exec: it makes
    only one C call (prepared here, in the parent) and leaves at once if the parent is
    already gone. The kernel ties the signal to the THREAD that forked: start children from
    a thread that lives as long as they should (the asyncio loop thread).
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong)
    parent = os.getpid()
    kill = int(signal.SIGKILL)

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, kill)
        if os.getppid() != parent:  # the parent died before the call: nobody would signal
            os._exit(1)
    return hook


def _signal(process: asyncio.subprocess.Process, signum: signal.Signals) -> None:
    try:
        process.send_signal(signum)
    except ProcessLookupError:
        pass  # it exited on its own meanwhile


def _split_lines(text: str) -> list[str]:
    r"""
    Split on ``\r``, ``\n`` or ``\r\n``; the last item is the unfinished remainder.

    Blank lines are dropped, since ffmpeg's carriage-return redraws produce many of them.
    """
    parts = text.replace('\r\n', '\n').replace('\r', '\n').split('\n')
    return [line for line in parts[:-1] if line.strip()] + [parts[-1]]
