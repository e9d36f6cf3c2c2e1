"""The relay's MPEG-TS checker against streams real ffmpeg writes (no network)."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import pytest
from robot_bridges.sims.letsrobot_relay import PACKET, TsChecker

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ts(*args: str) -> bytes:
    """Return what ffmpeg writes as MPEG-TS to stdout for ``args`` (inputs and codecs)."""
    return subprocess.run([FFMPEG, '-hide_banner', '-loglevel', 'error', '-nostdin', *args,
                           '-f', 'mpegts', '-muxdelay', '0.001', 'pipe:1'],
                          check=True, capture_output=True, timeout=60).stdout


def video(codec: str) -> bytes:
    return ts('-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-t', '1', '-an',
              '-codec:v', codec, '-b:v', '350k', '-bf', '0')


def audio(codec: str) -> bytes:
    return ts('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '1', '-vn',
              '-codec:a', codec, '-b:a', '32k', '-ar', '44100', '-ac', '1')


def checked(kind: str, data: bytes, chunk: int = 1000) -> TsChecker:
    checker = TsChecker(kind)
    for at in range(0, len(data), chunk):  # chunks that split packets anywhere
        checker.feed(data[at:at + chunk])
    return checker


def test_mpeg1_video_is_valid_with_its_size() -> None:
    checker = checked('video', video('mpeg1video'))
    assert checker.valid, checker
    assert checker.sync_errors == 0 and checker.packets > 50
    assert checker.stream_types & {1, 2} and checker.sequence_headers >= 1
    assert (checker.width, checker.height) == (320, 240)


def test_mpeg2_video_is_not_mpeg1() -> None:
    checker = checked('video', video('mpeg2video'))
    assert checker.sequence_headers >= 1 and checker.mpeg2_extensions >= 1
    assert not checker.valid


def test_mp2_audio_is_valid_and_mp3_is_not() -> None:
    good = checked('audio', audio('mp2'), chunk=333)
    assert good.valid and good.mp2_frames > 10, good
    assert not checked('audio', audio('libmp3lame')).valid


def test_video_on_the_audio_sink_is_invalid() -> None:
    assert not checked('audio', video('mpeg1video')).valid


@pytest.mark.parametrize('damage', ['garbage_front', 'cut_packet'])
def test_broken_packets_are_counted(damage: str) -> None:
    data = video('mpeg1video')
    if damage == 'garbage_front':
        data = b'\x00' * 100 + data
    else:
        data = data[:PACKET * 10 + 50] + data[PACKET * 11:]
    checker = checked('video', data)
    assert checker.sync_errors >= 1 and not checker.valid
    assert checker.packets >= len(data) // PACKET - 2  # it resynchronised
