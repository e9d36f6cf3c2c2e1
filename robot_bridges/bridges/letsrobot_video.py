"""
The LetsRobot bridge's streams: one supervised ffmpeg each, and raw frames fed to one.

:class:`Stream` runs one ffmpeg through
:class:`~robot_bridges.runtime.subprocess_supervisor.SubprocessSupervisor`: restarted with
backoff when it exits, its stderr tail redacted, killed by the kernel if the node dies
(parent-death signal), and, for the ``topic`` source, fed through a stdin pipe whose EOF
also ends it. :class:`FrameFeed` is the ``topic`` source's hand-off: the executor offers
frames, the loop writes the newest one to ffmpeg's stdin; a slow encoder makes frames
drop, never a callback wait. A frame's bytes are the received message's own buffer (a
memoryview, no copy), and the pipe is grown to hold a whole frame, so that each frame goes
to ffmpeg in one system call without asyncio copying the part a 64 KiB pipe cannot take.

Everything here runs on the asyncio loop thread except :meth:`FrameFeed.offer`'s caller,
which hands over through ``call_soon``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import fcntl
from pathlib import Path
from typing import Callable, Protocol, Sequence

from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.subprocess_supervisor import SubprocessSupervisor

STOP_TIMEOUT_S = 0.4
# The stderr lines of an ended ffmpeg that reach the log and diagnostics (redacted).
TAIL_LINES = 3
# What an unprivileged process may grow a pipe to (Linux): /proc/sys/fs/pipe-max-size.
PIPE_MAX_SIZE_FILE = Path('/proc/sys/fs/pipe-max-size')


class StreamListener(Protocol):
    """What a :class:`Stream` tells the node (loop thread)."""

    def stream_changed(self, kind: str, running: bool) -> None:
        """Hear that the stream's ffmpeg started (``running``) or ended."""

    def stream_failed(self, kind: str, reason: str) -> None:
        """Hear that the stream's ffmpeg ended or could not start (``reason`` redacted)."""


class Stream:
    """One ffmpeg streaming to the relay, kept running until :meth:`stop`."""

    def __init__(self, kind: str, listener: StreamListener, backoff: Backoff,
                 secrets: Sequence[str]) -> None:
        self.kind = kind
        self.starts = 0
        self.last_error = ''
        self.display_command = ''
        self._listener = listener
        self._backoff = backoff
        self._secrets = tuple(secrets)
        self._supervisor: SubprocessSupervisor | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether ffmpeg is alive right now."""
        return self._supervisor is not None and self._supervisor.running

    @property
    def pid(self) -> int | None:
        """Return ffmpeg's process id while it runs."""
        return self._supervisor.pid if self._supervisor is not None else None

    @property
    def stdin(self) -> asyncio.StreamWriter | None:
        """Return the pipe to ffmpeg's standard input (``topic`` source) while it runs."""
        return self._supervisor.stdin if self._supervisor is not None else None

    @property
    def active(self) -> bool:
        """Whether a command line is being kept running (started and not stopped)."""
        return self._task is not None

    def start(self, argv: Sequence[str], *, pipe_stdin: bool = False) -> None:
        """Start keeping ``argv`` running (a running one is stopped first by :meth:`stop`)."""
        assert self._task is None, 'stop() first'
        supervisor = SubprocessSupervisor(
            argv, _Listener(self), self._backoff, self._secrets, stderr_lines=20,
            stop_timeout_s=STOP_TIMEOUT_S, healthy_after_s=5.0, pipe_stdin=pipe_stdin,
            die_with_parent=True)
        self._supervisor = supervisor
        self.display_command = supervisor.display_command
        self._task = asyncio.create_task(supervisor.run())

    async def stop(self) -> None:
        """Stop ffmpeg (SIGTERM, then SIGKILL) and wait for it."""
        supervisor, task = self._supervisor, self._task
        self._task = None
        if supervisor is None or task is None:
            return
        try:
            await supervisor.close()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self._listener.stream_changed(self.kind, False)

    async def restart(self, argv: Sequence[str], *, pipe_stdin: bool = False) -> None:
        """Stop the running ffmpeg, then keep ``argv`` running instead."""
        await self.stop()
        self.start(argv, pipe_stdin=pipe_stdin)

    # -- from the supervisor ---------------------------------------------------------------

    def _started(self) -> None:
        self.starts += 1
        self._listener.stream_changed(self.kind, True)

    def _exited(self, reason: str) -> None:
        assert self._supervisor is not None
        if self._task is None:
            # stop() asked for this end and reports the change itself. An ffmpeg that needed
            # SIGKILL there (slow to finish its output on a loaded machine) did not fail.
            return
        tail = self._supervisor.last_error.splitlines()[-TAIL_LINES:]
        self.last_error = ' | '.join(tail) if tail else reason
        self._listener.stream_changed(self.kind, False)
        self._listener.stream_failed(self.kind, f'{reason.partition(":")[0]}: {self.last_error}')


class _Listener:
    def __init__(self, stream: Stream) -> None:
        self._stream = stream

    def process_started(self, pid: int) -> None:
        self._stream._started()

    def process_output(self, line: str) -> None:
        pass  # ffmpeg writes its stream to the relay, nothing to stdout

    def process_exited(self, returncode: int, reason: str) -> None:
        self._stream._exited(reason)

    def process_error(self, what: str) -> None:
        self._stream.last_error = what
        self._stream._listener.stream_failed(self._stream.kind, what)


@dataclass(frozen=True)
class Frame:
    """
    One raw image: its size, ffmpeg pixel format and tightly packed rows.

    ``data`` may view the received message's buffer: nothing may write to that buffer
    while the frame is alive.
    """

    width: int
    height: int
    pixel_format: str
    data: memoryview


class FrameFeed:
    """
    The newest frame waiting for ffmpeg's stdin; older ones are dropped (bounded: one).

    ``reshape(frame)`` is called when a frame's size or format differs from the one the
    encoder was started for: the node restarts the encoder, and the frame is kept.
    """

    def __init__(self, stream: Stream, reshape: Callable[[Frame], None]) -> None:
        self.dropped = 0
        self.written = 0
        self.shape: tuple[int, int, str] | None = None
        self._stream = stream
        self._reshape = reshape
        self._pending: Frame | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._grown: asyncio.StreamWriter | None = None

    def offer(self, frame: Frame) -> None:
        """Take a frame (loop thread); a frame still waiting is replaced and counted."""
        if self._pending is not None:
            self.dropped += 1
        self._pending = frame
        shape = (frame.width, frame.height, frame.pixel_format)
        if shape != self.shape:
            self.shape = shape
            self._reshape(frame)
        self._ready.set()
        if self._task is None:
            self._task = asyncio.create_task(self._write())

    async def close(self) -> None:
        """Stop writing; the next offer starts again."""
        task, self._task = self._task, None
        self._pending = None
        self.shape = None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _write(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            frame, self._pending = self._pending, None
            stdin = self._stream.stdin
            if frame is None:
                continue
            if stdin is None:
                self.dropped += 1  # the encoder is (re)starting
                continue
            if stdin is not self._grown:  # a new encoder: a new pipe
                self._grown = stdin
                grow_pipe(stdin, len(frame.data))
            try:
                stdin.write(frame.data)
                await stdin.drain()  # a slow encoder waits here; new frames replace pending
                self.written += 1
            except (ConnectionError, OSError):
                self.dropped += 1  # ffmpeg ended; the supervisor restarts it


def grow_pipe(writer: asyncio.StreamWriter, size: int) -> int:
    """
    Ask Linux to let the pipe behind ``writer`` hold ``size`` bytes (at most the maximum).

    Returns the pipe's capacity afterwards, 0 where it cannot be known. A pipe that stays
    at its default size still works: asyncio buffers what the pipe cannot take.
    """
    pipe = writer.transport.get_extra_info('pipe')
    setter = getattr(fcntl, 'F_SETPIPE_SZ', None)
    if pipe is None or setter is None:
        return 0
    try:
        limit = int(PIPE_MAX_SIZE_FILE.read_text())
    except (OSError, ValueError):
        limit = size
    try:
        return fcntl.fcntl(pipe.fileno(), setter, max(1, min(size, limit)))
    except OSError:
        return fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ)
