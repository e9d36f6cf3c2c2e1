"""
LetsRobot video path CPU share: camera images -> letsrobot_bridge -> ffmpeg -> relay.

The simulator runs in the driver (its relay checks the MPEG-TS it receives); the bridge
(``video_source:=topic``, no audio) and the camera (``image_source.py``, 640x480 rgb8 at
25 fps) are their own processes. After the bridge identified itself, its CPU is sampled with
no images (idle); then the camera starts, and once the relay holds a valid stream and a
warm-up has passed, the CPU time (utime + stime from /proc/<pid>/stat) of the node and of its
ffmpeg child is sampled over a window, with the frames written and dropped (the bridge's
diagnostics) and the bytes the relay received.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import json
from pathlib import Path
import re
import sys
import time
from typing import Any

import procs
from robot_bridges.sims import letsrobot_sim

NAME = 'letsrobot_video'
WIDTH, HEIGHT, FPS, ENCODING = 640, 480, 25, 'rgb8'
KBPS = 350
NAMESPACE = '/letsrobot'
NODE = f'{NAMESPACE}/letsrobot_bridge'
ROBOT_ID, CAMERA_ID, STREAM_KEY = 'bench', 'bench_camera', 'bench-stream-key'
SETTLE_S = 2.0
IDLE_S = 10.0
WARM_UP_S = 5.0
WINDOW_S = 20.0
START_TIMEOUT_S = 30.0
DIAGNOSTICS_TIMEOUT_S = 10.0
# Frames the encoder must have taken, of fps x window, for the run to count (a loaded
# machine drops a few).
WRITTEN_MIN = 0.9
_PID = re.compile(r'pid (\d+)')


@dataclass(frozen=True)
class VideoResult:
    """CPU shares (1.0 = one core) and what went through, over one measurement window."""

    window_s: float
    node_idle: float
    node: float
    ffmpeg: float
    source: float
    offered: int
    written: int
    dropped: int
    over_rate: int
    superseded: int
    lost: int
    encoder_starts: int
    valid: bool
    streams: int
    coded_size: tuple[int, int]
    kbps: float

    @property
    def passed(self) -> bool:
        """One valid stream from one encoder, which took nearly every offered frame."""
        return (self.valid and self.streams == 1 and self.encoder_starts == 0 and
                self.written >= WRITTEN_MIN * FPS * self.window_s)


class Camera:
    """The image source process's reports, read from its stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.published = 0
        self._diagnostics: dict[str, str] = {}
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            event = json.loads(line)
            async with self._changed:
                if event['event'] == 'published':
                    self.published = event['count']
                else:
                    self._diagnostics = event['values']
                self._changed.notify_all()

    async def next_diagnostics(self) -> dict[str, str]:
        """Return the bridge's next diagnostics (not one already seen)."""
        async with self._changed:
            previous = self._diagnostics
            await asyncio.wait_for(
                self._changed.wait_for(lambda: self._diagnostics is not previous),
                DIAGNOSTICS_TIMEOUT_S)
            return self._diagnostics

    async def close(self) -> None:
        """Stop reading (the process is stopped by its context)."""
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


def bridge_argv(sim: letsrobot_sim.LetsRobotSim) -> list[str]:
    """Return the bridge's argv: topic video source at the benchmark's size, no audio."""
    argv = [*procs.executable('letsrobot_bridge'), '--ros-args']
    for key, value in {**sim.bridge_parameters(), 'robot_id': ROBOT_ID,
                       'camera_id': CAMERA_ID, 'stream_key': STREAM_KEY,
                       'video_source': 'topic', 'audio_source': 'none',
                       'video_width': WIDTH, 'video_height': HEIGHT, 'video_fps': FPS,
                       'video_kbps': KBPS}.items():
        argv += ['-p', f'{key}:={value}']
    return argv


def camera_argv() -> list[str]:
    """Return the image source's argv."""
    return [*procs.bench_script('image_source'), '--topic', f'{NAMESPACE}/image',
            '--node', NODE, '--width', str(WIDTH), '--height', str(HEIGHT),
            '--encoding', ENCODING, '--fps', str(FPS)]


async def until(condition: Any, timeout: float, what: str) -> None:
    """Poll ``condition()`` every 0.1 s; TimeoutError saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out after {timeout} s waiting for {what}')
        await asyncio.sleep(0.1)


def ffmpeg_pid(values: dict[str, str]) -> int | None:
    """Return the video ffmpeg's process id from the bridge's diagnostics."""
    found = _PID.search(values.get('video_process', ''))
    return int(found.group(1)) if found else None


async def measure(workdir: Path, window_s: float = WINDOW_S) -> VideoResult:
    """Run simulator, bridge and camera; return the figures of one window."""
    try:
        return await _measure(workdir, window_s)
    except Exception as exc:
        print(f'bench: {NAME} failed: {exc!r}; process logs:', file=sys.stderr)
        for log in sorted(workdir.glob('*.log')):
            tail = log.read_text(errors='replace').splitlines()[-15:]
            print(f'--- {log.name}', *tail, sep='\n', file=sys.stderr)
        raise


async def _measure(workdir: Path, window_s: float) -> VideoResult:
    sim = await letsrobot_sim.start('127.0.0.1', 0, audience_on=False, stream_key=STREAM_KEY)
    relay = sim.relays['video']
    try:
        async with contextlib.AsyncExitStack() as stack:
            bridge = await stack.enter_async_context(
                procs.running(bridge_argv(sim), workdir / 'bridge.log'))
            await until(lambda: sim.sockets['control'].identified, START_TIMEOUT_S,
                        'the bridge to identify itself')
            await asyncio.sleep(SETTLE_S)
            idle_cpu, idle_start = procs.cpu_seconds(bridge), time.monotonic()
            await asyncio.sleep(IDLE_S)
            node_idle = (procs.cpu_seconds(bridge) - idle_cpu) / (time.monotonic() - idle_start)

            process = await stack.enter_async_context(
                procs.running(camera_argv(), workdir / 'camera.log', stdout_pipe=True))
            camera = Camera(process)
            stack.push_async_callback(camera.close)
            await until(lambda: relay.sessions and relay.sessions[-1].checker.valid and
                        relay.sessions[-1].checker.packets >= 100, START_TIMEOUT_S,
                        'a valid video stream at the relay')
            await asyncio.sleep(WARM_UP_S)

            async def sample() -> tuple[dict[str, str], float, float, float, float, int]:
                values = await camera.next_diagnostics()
                pid = ffmpeg_pid(values)
                if pid is None:
                    raise RuntimeError(f'no video ffmpeg running: {values}')
                return (values, time.monotonic(), procs.cpu_seconds(bridge),
                        procs.pid_cpu_seconds(pid), procs.cpu_seconds(process),
                        relay.sessions[-1].checker.byte_count)

            streams_before = len(relay.sessions)
            published_before = camera.published
            before = await sample()
            await asyncio.sleep(window_s)
            after = await sample()
            published = camera.published - published_before
    finally:
        await sim.close()
    (d0, t0, node0, ffmpeg0, source0, bytes0), (d1, t1, node1, ffmpeg1, source1, bytes1) = \
        before, after
    wall = t1 - t0
    session = relay.sessions[-1]
    return VideoResult(
        window_s=wall, node_idle=node_idle, node=(node1 - node0) / wall,
        ffmpeg=(ffmpeg1 - ffmpeg0) / wall, source=(source1 - source0) / wall,
        offered=published,
        written=int(d1['frames_written']) - int(d0['frames_written']),
        dropped=int(d1['frames_dropped']) - int(d0['frames_dropped']),
        over_rate=int(d1['frames_over_rate']) - int(d0['frames_over_rate']),
        superseded=int(d1['frames_superseded']) - int(d0['frames_superseded']),
        lost=int(d1['frames_lost']) - int(d0['frames_lost']),
        encoder_starts=int(d1['video_starts']) - int(d0['video_starts']),
        valid=session.checker.valid and session.checker.mpeg2_extensions == 0,
        streams=len(relay.sessions) - streams_before + 1,
        coded_size=(session.checker.width or 0, session.checker.height or 0),
        kbps=(bytes1 - bytes0) * 8 / 1000 / wall)


def table(result: VideoResult) -> str:
    """Return the result as a markdown table of one row."""
    width, height = result.coded_size
    relay = (f'{"valid" if result.valid else "INVALID"} MPEG-1 {width}x{height}, '
             f'{result.kbps:.0f} kbit/s')
    return '\n'.join([
        '| Video path (topic source) | node idle | node | ffmpeg | node + ffmpeg '
        '| frames written / dropped (over rate, superseded) | relay | verdict |',
        '|---|---|---|---|---|---|---|---|',
        f'| {WIDTH}x{HEIGHT} {ENCODING} {FPS} fps -> MPEG-1 {KBPS} kbit/s '
        f'| {result.node_idle:.1%} | {result.node:.1%} | {result.ffmpeg:.1%} '
        f'| {result.node + result.ffmpeg:.1%} | {result.written} / {result.dropped} '
        f'({result.over_rate}, {result.superseded}) '
        f'| {relay} | {"PASS" if result.passed else "FAIL"} |',
    ])


def notes(result: VideoResult) -> str:
    """Say how the figures were made, under the table."""
    return (f'CPU: utime + stime from /proc/<pid>/stat over {result.window_s:.1f} s, as a '
            f'share of one core, after a {WARM_UP_S:.0f} s warm-up; node idle: the same '
            f'node over {IDLE_S:.0f} s before the first image. The camera process '
            f'published {result.offered} frames in the window ({result.lost} reported lost '
            f'by DDS) and used {result.source:.1%} of a core. Frames and encoder restarts '
            f'({result.encoder_starts}) from the bridge diagnostics, bitrate from the '
            f'bytes the simulator relay received in the window. Verdict: a valid MPEG-1 '
            f'stream from one encoder that took at least {WRITTEN_MIN:.0%} of '
            f'{FPS} fps.')
