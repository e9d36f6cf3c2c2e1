"""
The LetsRobot relay sinks: HTTP POST bodies of continuous MPEG-TS, checked packet by packet.

:class:`TsChecker` is sans-I/O: bytes in, counters out. It checks the 188-byte packets and
their sync byte (0x47), reads the PAT and PMT to learn the elementary streams' types, and
looks into the streams themselves: the video must be MPEG-1 (sequence headers, and no
MPEG-2 sequence extension after them; ffmpeg declares it as stream type 0x02 in the PMT even
for MPEG-1, so the type alone cannot tell), the audio MPEG audio layer II (MP2).

:class:`RelaySink` is the aiohttp side: ``POST /<stream_key>/<w>/<h>/`` with a wrong key is
refused (403); a right one is read to its end through a checker, optionally recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
import time
from typing import Any, BinaryIO

from aiohttp import web

PACKET = 188
SYNC = 0x47
VIDEO_TYPES = (0x01, 0x02)
AUDIO_TYPES = (0x03, 0x04)
SEQUENCE_HEADER = b'\x00\x00\x01\xb3'
EXTENSION = b'\x00\x00\x01\xb5'
MAX_PENDING = 1 << 20


@dataclass
class TsChecker:
    """What one MPEG-TS byte stream held; :meth:`feed` it any chunks, in order."""

    kind: str  # 'video' or 'audio': which stream it must carry
    byte_count: int = 0
    packets: int = 0
    sync_errors: int = 0
    stream_types: set[int] = field(default_factory=set)
    sequence_headers: int = 0
    mpeg2_extensions: int = 0
    width: int = 0
    height: int = 0
    mp2_frames: int = 0
    other_audio_frames: int = 0
    _pending: bytearray = field(default_factory=bytearray)
    _pmt_pids: set[int] = field(default_factory=set)
    _video_pids: set[int] = field(default_factory=set)
    _audio_pids: set[int] = field(default_factory=set)
    _tail: bytes = b''

    def feed(self, data: bytes) -> None:
        """Check every whole packet in ``data`` (plus what was left over last time)."""
        self.byte_count += len(data)
        pending = self._pending
        pending += data
        start = 0
        while len(pending) - start >= PACKET:
            if pending[start] != SYNC:
                self.sync_errors += 1
                found = pending.find(SYNC, start + 1)  # resynchronise on the next 0x47
                start = found if found >= 0 else len(pending)
                continue
            self._packet(memoryview(pending)[start:start + PACKET])
            start += PACKET
        del pending[:start]
        if len(pending) > MAX_PENDING:
            pending.clear()

    @property
    def valid(self) -> bool:
        """Whether the stream is what the site plays: clean TS with the right content."""
        if not self.packets or self.sync_errors:
            return False
        if self.kind == 'video':
            return (bool(self.stream_types & set(VIDEO_TYPES)) and self.sequence_headers > 0
                    and self.mpeg2_extensions == 0)
        return (bool(self.stream_types & set(AUDIO_TYPES)) and self.mp2_frames > 0
                and self.other_audio_frames == 0)

    def _packet(self, packet: memoryview) -> None:
        self.packets += 1
        pid = ((packet[1] & 0x1F) << 8) | packet[2]
        unit_start = bool(packet[1] & 0x40)
        adaptation = (packet[3] >> 4) & 0x3
        offset = 4
        if adaptation & 0x2:
            offset += 1 + packet[4]
        if not adaptation & 0x1 or offset >= PACKET:
            return
        payload = packet[offset:]
        if pid == 0 and unit_start:
            self._pat(_section(payload))
        elif pid in self._pmt_pids and unit_start:
            self._pmt(_section(payload))
        elif pid in self._video_pids:
            self._video(_elementary(payload, unit_start))
        elif pid in self._audio_pids and unit_start:
            self._audio(_elementary(payload, unit_start))

    def _pat(self, section: bytes) -> None:
        if len(section) < 8 or section[0] != 0x00:
            return
        end = min(len(section), 3 + (((section[1] & 0x0F) << 8) | section[2])) - 4
        for at in range(8, end - 3, 4):
            program = (section[at] << 8) | section[at + 1]
            if program:
                self._pmt_pids.add(((section[at + 2] & 0x1F) << 8) | section[at + 3])

    def _pmt(self, section: bytes) -> None:
        if len(section) < 12 or section[0] != 0x02:
            return
        end = min(len(section), 3 + (((section[1] & 0x0F) << 8) | section[2])) - 4
        at = 12 + (((section[10] & 0x0F) << 8) | section[11])
        while at + 5 <= end:
            stream_type = section[at]
            pid = ((section[at + 1] & 0x1F) << 8) | section[at + 2]
            self.stream_types.add(stream_type)
            if stream_type in VIDEO_TYPES:
                self._video_pids.add(pid)
            elif stream_type in AUDIO_TYPES:
                self._audio_pids.add(pid)
            at += 5 + (((section[at + 3] & 0x0F) << 8) | section[at + 4])

    def _video(self, data: bytes) -> None:
        scan = self._tail + data
        at = scan.find(SEQUENCE_HEADER)
        while at >= 0:
            self.sequence_headers += 1
            size = scan[at + 4:at + 7]
            if len(size) == 3:
                self.width = (size[0] << 4) | (size[1] >> 4)
                self.height = ((size[1] & 0x0F) << 8) | size[2]
            at = scan.find(SEQUENCE_HEADER, at + 4)
        self.mpeg2_extensions += scan.count(EXTENSION)
        self._tail = scan[-3:]

    def _audio(self, data: bytes) -> None:
        # ffmpeg starts every audio PES with a frame: 11 sync bits, then the layer bits.
        if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
            if (data[1] >> 1) & 0x3 == 0x2:
                self.mp2_frames += 1
                return
        self.other_audio_frames += 1


def _section(payload: memoryview) -> bytes:
    pointer = payload[0]
    return bytes(payload[1 + pointer:])


def _elementary(payload: memoryview, unit_start: bool) -> bytes:
    if not unit_start:
        return bytes(payload)
    if len(payload) < 9 or bytes(payload[:3]) != b'\x00\x00\x01':
        return b''
    return bytes(payload[9 + payload[8]:])


@dataclass
class StreamSession:
    """One POST: its checker, when it started and ended, the size from its path."""

    checker: TsChecker
    path_size: tuple[int, int]
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    def summary(self) -> dict[str, Any]:
        """Return the session's figures as JSON data."""
        checker = self.checker
        seconds = max((self.ended or time.monotonic()) - self.started, 1e-3)
        return {
            'valid': checker.valid, 'bytes': checker.byte_count, 'packets': checker.packets,
            'sync_errors': checker.sync_errors, 'seconds': round(seconds, 3),
            'kbps': round(checker.byte_count * 8 / 1000 / seconds, 1),
            'stream_types': sorted(checker.stream_types),
            'sequence_headers': checker.sequence_headers,
            'mpeg2_extensions': checker.mpeg2_extensions,
            'coded_size': [checker.width, checker.height], 'path_size': list(self.path_size),
            'mp2_frames': checker.mp2_frames, 'other_audio_frames': checker.other_audio_frames,
            'open': self.ended is None,
        }


class RelaySink:
    """One relay port (video or audio): checks every POSTed stream; keeps their figures."""

    def __init__(self, kind: str, stream_key: str, record_dir: Path | None = None,
                 keep: int = 20) -> None:
        self.kind = kind
        self.stream_key = stream_key
        self.record_dir = record_dir
        self.sessions: list[StreamSession] = []
        self.rejected_keys = 0
        self._keep = keep
        # The POSTs whose body is still being read, by id (a request is not hashable).
        self._streaming: dict[int, web.Request] = {}
        self.app = web.Application()
        self.app.router.add_post('/{key}/{width:\\d+}/{height:\\d+}/', self._post)
        self.app.router.add_post('/{key}/{width:\\d+}/{height:\\d+}', self._post)

    def summary(self) -> dict[str, Any]:
        """Return the sink's figures: the newest session first, and the totals."""
        sessions = [s.summary() for s in reversed(self.sessions)]
        return {'sessions': sessions, 'streams': len(self.sessions),
                'rejected_keys': self.rejected_keys,
                'last': sessions[0] if sessions else None}

    async def end_streams(self, timeout: float) -> None:
        """
        End every stream still being POSTed (its connection closed) and wait for its handler.

        For a clean stop, before the runner's cleanup: aiohttp's shutdown waits a handler
        still running for its shutdown_timeout, and a handler that ends in the very moment
        that wait times out makes aiohttp log an InvalidStateError traceback of its own.
        """
        for request in list(self._streaming.values()):
            if request.transport is not None:
                request.transport.close()
        deadline = time.monotonic() + timeout
        while self._streaming and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _post(self, request: web.Request) -> web.StreamResponse:
        if request.match_info['key'] != self.stream_key:
            self.rejected_keys += 1
            # ffmpeg never reads the answer while it streams: end the connection instead.
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=403, text='wrong stream key\n')
        size = (int(request.match_info['width']), int(request.match_info['height']))
        session = StreamSession(TsChecker(self.kind), size)
        self.sessions.append(session)
        del self.sessions[:-self._keep]
        record = self._record_file(len(self.sessions))
        self._streaming[id(request)] = request
        try:
            async for chunk in request.content.iter_any():
                session.checker.feed(chunk)
                if record is not None:
                    record.write(chunk)
        except ConnectionError:
            pass  # the streamer went away without ending its body: the session ends here
        finally:
            self._streaming.pop(id(request), None)
            session.ended = time.monotonic()
            if record is not None:
                record.close()
        return web.Response(text='ok\n')

    def _record_file(self, number: int) -> BinaryIO | None:
        if self.record_dir is None:
            return None
        self.record_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime('%Y%m%d-%H%M%S')
        return open(self.record_dir / f'{self.kind}-{stamp}-{number}.ts', 'wb')
