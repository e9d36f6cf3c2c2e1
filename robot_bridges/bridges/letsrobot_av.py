"""
The LetsRobot bridge's video side: both encoders of an active session (asyncio thread only).

:class:`VideoSide` starts the video and audio ffmpeg (:class:`~robot_bridges.bridges.
letsrobot_video.Stream`) once discovery named the relay, restarts video at a new size when
the settings change, feeds a ``topic`` source's frames (restarting the encoder when their
size or format changes), and obeys the site's app-socket ``VIDOFF`` / ``VIDON`` as the
reference client's video side did (``video/ffmpeg.py`` ``onCommandToRobot``): off stops both
encoders until on starts them again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import functools
import shutil
from typing import Any, Awaitable, Callable, Iterable, Sequence

from robot_bridges.bridges.letsrobot_video import Frame, FrameFeed, Stream, StreamListener
from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.redact import redact
from robot_bridges.translate import letsrobot as translate
from robot_bridges.translate.letsrobot import AudioSpec, FramePacer, VideoSpec


@dataclass(frozen=True)
class AvConfig:
    """What the encoders are asked for (from the node's parameters)."""

    ffmpeg: str
    video_source: str
    audio_source: str
    fps: int
    video_kbps: int
    audio_kbps: int
    relay_scheme: str
    stream_key: str


@dataclass(frozen=True)
class Relay:
    """Where discovery said the streams go."""

    host: str
    video_port: int
    audio_port: int


class VideoSide:
    """The two streams, the frame feed and pacer, and the site's VIDOFF state."""

    def __init__(self, config: AvConfig, listener: StreamListener, backoff: Backoff,
                 secrets: Sequence[str], *, log: Callable[[str], None],
                 spawn: Callable[[Awaitable[Any]], None]) -> None:
        self.config = config
        self.streams = {kind: Stream(kind, listener, backoff, secrets)
                        for kind in ('video', 'audio')}
        self.feed = FrameFeed(self.streams['video'], self._reshape)
        self.pacer = FramePacer(config.fps)
        self.size = (0, 0)
        self.off = False  # the site said VIDOFF (until VIDON)
        self._relay: Relay | None = None
        self._secrets = tuple(secrets)
        self._log = log
        self._spawn = spawn
        # Every change of the encoders runs under it, in the order asked: a VIDON right
        # after a VIDOFF, or a resize during a restart, must not overtake or interleave.
        self._changing = asyncio.Lock()

    @property
    def video_running(self) -> bool:
        """Whether the video ffmpeg runs (what ``send_video_status`` reports)."""
        return self.streams['video'].running and not self.off

    def begin(self, relay: Relay) -> None:
        """Start both encoders towards the relay discovery named."""
        self._relay = relay
        self._in_order(self._start)

    def _in_order(self, change: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            async with self._changing:
                await change()
        self._spawn(run())

    async def _start(self) -> None:
        """Start the encoders that should run and do not (nothing while the site said off)."""
        if self._relay is None or self.off:
            return
        config = self.config
        video, audio = self.streams['video'], self.streams['audio']
        if config.video_source not in ('none', 'topic') and not video.active:
            video.start(translate.video_argv(config.ffmpeg, self._video_spec(),
                                             self._url(self._relay.video_port)))
            self._log(f'video: {video.display_command}')
        if config.audio_source != 'none' and not audio.active:
            audio.start(translate.audio_argv(
                config.ffmpeg, AudioSpec(config.audio_source, config.audio_kbps),
                self._url(self._relay.audio_port)))
            self._log(f'audio: {audio.display_command}')

    def resize(self, size: tuple[int, int]) -> None:
        """Stream at ``size`` from now on; a running video encoder restarts."""
        changed = size != self.size and self.size != (0, 0)
        self.size = size
        if not changed or self._relay is None or self.off:
            return
        if self.config.video_source == 'topic':
            self.feed.shape = None  # the next frame restarts the encoder at the new size
        elif self.config.video_source != 'none':
            self._in_order(self._restart_video)

    async def _restart_video(self, frame: Frame | None = None) -> None:
        """Restart the video encoder at the size (and frame shape) of now, if it should run."""
        if self._relay is None or self.off:
            return
        argv = translate.video_argv(self.config.ffmpeg, self._video_spec(frame),
                                    self._url(self._relay.video_port))
        await self.streams['video'].restart(argv, pipe_stdin=frame is not None)
        if frame is not None:
            shown = translate.display_argv(argv, self.config.stream_key)
            self._log(f'video from {frame.width}x{frame.height} {frame.pixel_format} frames: '
                      f'{shown}')

    def offer(self, frame: Frame) -> None:
        """Take one frame of a ``topic`` source (dropped while off or before discovery)."""
        if self._relay is not None and not self.off:
            self.feed.offer(frame)

    def site_off(self) -> None:
        """Stop both encoders until :meth:`site_on` (the site's VIDOFF); off at once."""
        self.off = True
        self._in_order(self._stop_encoders)

    def site_on(self) -> None:
        """Start the encoders again (the site's VIDON)."""
        self.off = False
        self.feed.shape = None  # a topic source restarts with the next frame
        self._in_order(self._start)

    async def stop(self) -> None:
        """Stop the feed and both encoders; nothing starts them again before :meth:`begin`."""
        self._relay = None
        async with self._changing:
            await self._stop_encoders()

    async def _stop_encoders(self) -> None:
        await asyncio.gather(self.feed.close(), *(s.stop() for s in self.streams.values()),
                             return_exceptions=True)

    def diagnostic_values(self) -> Iterable[tuple[str, str]]:
        """Both processes, and the frame counters."""
        values = []
        for kind, stream in self.streams.items():
            pid = stream.pid
            values += [(f'{kind}_process', f'running (pid {pid})' if pid else 'stopped'),
                       (f'{kind}_starts', str(stream.starts)),
                       (f'{kind}_last_error', redact(stream.last_error, self._secrets))]
        values += [('video_off_by_site', str(self.off).lower()),
                   ('frames_written', str(self.feed.written)),
                   ('frames_dropped', str(self.feed.dropped + self.pacer.dropped)),
                   ('frames_over_rate', str(self.pacer.dropped)),
                   ('frames_superseded', str(self.feed.dropped))]
        return values

    # -- helpers ---------------------------------------------------------------------------

    def _url(self, port: int) -> str:
        assert self._relay is not None
        width, height = self.size
        return translate.stream_url(self.config.relay_scheme, self._relay.host, port,
                                    self.config.stream_key, width, height)

    def _video_spec(self, frame: Frame | None = None) -> VideoSpec:
        width, height = self.size
        config = self.config
        if frame is None:
            return VideoSpec(config.video_source, width, height, config.fps, config.video_kbps)
        return VideoSpec('topic', width, height, config.fps, config.video_kbps,
                         (frame.width, frame.height), frame.pixel_format)

    def _reshape(self, frame: Frame) -> None:
        if self._relay is not None:
            self._in_order(functools.partial(self._restart_video, frame))


def frame_of(width: int, height: int, step: int, encoding: str, data: Any) -> Frame:
    """
    Return an Image message's pixels as a tightly packed frame; ValueError if unusable.

    ``data`` is the message's own buffer, which nothing else holds: without row padding it
    is used as is (a memoryview, no copy).
    """
    pixel_format, depth = translate.raw_format(encoding)
    row = width * depth
    if not (width and height and step >= row and len(data) >= step * height):
        raise ValueError(f'{width}x{height} step {step} does not fit {len(data)} bytes')
    view = memoryview(data)
    if step != row:  # drop row padding: ffmpeg reads tightly packed rows
        view = memoryview(b''.join(view[y * step:y * step + row] for y in range(height)))
    else:
        view = view[:row * height]
    return Frame(width, height, pixel_format, view)


def find_ffmpeg(configured: str) -> str:
    """Return the ffmpeg program to run; ValueError if there is none."""
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise ValueError(f'ffmpeg {configured!r} not found or not executable')
        return found
    try:
        import imageio_ffmpeg  # noqa: I100 - optional: the pip-only world's ffmpeg
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        found = shutil.which('ffmpeg')
        if found is None:
            raise ValueError('no ffmpeg: install imageio-ffmpeg or ffmpeg, or set the '
                             'ffmpeg parameter') from None
        return found
