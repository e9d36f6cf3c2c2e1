"""letsrobot_video: FrameFeed into a real ffmpeg's stdin, and into a child that never reads."""

from __future__ import annotations

import array
import asyncio
import fcntl
from functools import partial
import sys
from typing import Callable

import async_helpers
import imageio_ffmpeg
from robot_bridges.bridges.letsrobot_video import Frame, FrameFeed, grow_pipe, Stream
from robot_bridges.runtime.backoff import Backoff

FAST = Backoff(min_s=0.05, max_s=0.2)
WIDTH, HEIGHT = 640, 480
FRAME_BYTES = WIDTH * HEIGHT * 3
run = partial(async_helpers.run, timeout=40.0)


class Events:
    """A StreamListener that remembers what it heard."""

    def __init__(self) -> None:
        self.changes: list[bool] = []
        self.failures: list[str] = []

    def stream_changed(self, kind: str, running: bool) -> None:
        self.changes.append(running)

    def stream_failed(self, kind: str, reason: str) -> None:
        self.failures.append(reason)


def frame(n: int) -> Frame:
    """Return a 640x480 rgb24 frame viewing an array, as a received message's data is."""
    data = array.array('B', bytes([n % 256]) * FRAME_BYTES)
    return Frame(WIDTH, HEIGHT, 'rgb24', memoryview(data))


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, 'timed out'
        await asyncio.sleep(0.02)


def test_frames_reach_ffmpeg_whole_through_a_grown_pipe() -> None:
    async def test() -> tuple[FrameFeed, int, Events]:
        events = Events()
        stream = Stream('video', events, FAST, ())
        feed = FrameFeed(stream, lambda f: None)
        # ffmpeg decodes every frame it gets and throws the result away.
        stream.start([imageio_ffmpeg.get_ffmpeg_exe(), '-hide_banner', '-nostats',
                      '-loglevel', 'warning', '-f', 'rawvideo', '-pix_fmt', 'rgb24',
                      '-video_size', f'{WIDTH}x{HEIGHT}', '-framerate', '25', '-i', 'pipe:0',
                      '-f', 'null', '-'], pipe_stdin=True)
        await until(lambda: stream.stdin is not None)
        for n in range(30):
            feed.offer(frame(n))
            await asyncio.sleep(0.04)
        await until(lambda: feed.written + feed.dropped >= 30)
        assert stream.stdin is not None
        pipe = stream.stdin.transport.get_extra_info('pipe')
        capacity = fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ)
        await feed.close()
        await stream.stop()
        return feed, capacity, events

    feed, capacity, events = run(test())
    assert capacity >= FRAME_BYTES  # one write per frame, nothing buffered by asyncio
    assert feed.written >= 20, (feed.written, feed.dropped)
    assert events.changes[0] is True and events.changes[-1] is False
    assert not events.failures


def test_a_stalled_encoder_makes_frames_drop_and_never_blocks_the_offer() -> None:
    async def test() -> tuple[FrameFeed, float]:
        stream = Stream('video', Events(), FAST, ())
        feed = FrameFeed(stream, lambda f: None)
        # A child that never reads its stdin: the pipe fills and drain() waits for ever.
        stream.start([sys.executable, '-c', 'import time; time.sleep(60)'], pipe_stdin=True)
        await until(lambda: stream.stdin is not None)
        loop = asyncio.get_running_loop()
        slowest = 0.0
        for n in range(40):
            started = loop.time()
            feed.offer(frame(n))
            slowest = max(slowest, loop.time() - started)
            await asyncio.sleep(0.005)
        await until(lambda: feed.dropped >= 36)
        await feed.close()
        await stream.stop()
        return feed, slowest

    feed, slowest = run(test())
    # The first frame fits the grown pipe, the second waits in drain(), the rest replace
    # one another: every one is counted, none queues up.
    assert feed.written <= 2
    assert feed.written + feed.dropped >= 38
    assert slowest < 0.5  # offer only swaps a reference


def test_grow_pipe_reports_the_capacity_it_got() -> None:
    async def test() -> tuple[int, int]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, '-c', 'import sys; sys.stdin.buffer.read()',
            stdin=asyncio.subprocess.PIPE)
        assert process.stdin is not None
        try:
            big = grow_pipe(process.stdin, FRAME_BYTES)
            small = grow_pipe(process.stdin, 1)
        finally:
            process.stdin.close()
            await process.wait()
        return big, small

    big, small = run(test())
    assert big >= FRAME_BYTES
    assert 0 < small < big  # Linux rounds up to a page, never below
