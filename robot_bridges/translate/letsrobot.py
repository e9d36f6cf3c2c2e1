"""
LetsRobot events -> ROS messages, the owner/exclusive-control rules, ffmpeg command lines.

Everything here is pure: no I/O, no clock (stamps are passed in), no rclpy node.

* :func:`command_message` / :func:`chat_message` build the published messages.
* :class:`ControlFilter` decides what becomes of a command: published, ``filtered`` (for
  another robot) or ``excluded`` (exclusive control is on for someone else); chat commands
  from the owner and the site's ``exclusive_control`` event switch exclusive control.
* :func:`video_argv` / :func:`audio_argv` build ffmpeg's argument lists from parameters; the
  stream key appears only inside the URL, and :func:`display_argv` is the form to log.
"""

from __future__ import annotations

from dataclasses import dataclass
import shlex
from typing import Literal, Sequence
from urllib.parse import quote

from builtin_interfaces.msg import Time
from robot_bridges.msg import LetsRobotChat, LetsRobotCommand
from robot_bridges.protocols.letsrobot import (ChatMessage, Command, ExclusiveControl,
                                               ExclusiveMods, LocalProtocolError,
                                               parse_chat_command, stream_path)
from robot_bridges.runtime.redact import redact

Verdict = Literal['publish', 'filtered', 'excluded']
# Frame rates MPEG-1 video can signal (ffmpeg refuses others without -strict unofficial).
MPEG1_FRAME_RATES = (24, 25, 30, 50, 60)
# sensor_msgs/Image encodings ffmpeg reads as raw video, and their bytes per pixel.
RAW_FORMATS = {'rgb8': ('rgb24', 3), 'bgr8': ('bgr24', 3), 'mono8': ('gray', 1)}
AUDIO_RATE_HZ = 44100


def command_message(command: Command, stamp: Time, from_owner: bool) -> LetsRobotCommand:
    """Build the ``command`` message."""
    msg = LetsRobotCommand(command=command.command, user=command.user,
                           key_position=command.key_position, anonymous=command.anonymous,
                           from_owner=from_owner)
    msg.header.stamp = stamp
    return msg


def chat_message(chat: ChatMessage, stamp: Time, from_owner: bool) -> LetsRobotChat:
    """Build the ``chat`` message."""
    msg = LetsRobotChat(id=chat.message_id, name=chat.name, text=chat.text, message=chat.message,
                        room=chat.room, non_global=chat.non_global, anonymous=chat.anonymous,
                        username_color=chat.username_color, is_command=chat.is_command,
                        from_owner=from_owner)
    msg.header.stamp = stamp
    return msg


class ControlFilter:
    """
    Decide which commands reach ROS, and keep the exclusive user.

    A command reaches ROS if it is this robot's and, while exclusive control is on, comes
    from the exclusive user or the owner, or from a moderator while ``exclusive_mods`` is
    on (``.exclusive mods on``: what the reference's log says it enables; its own filter
    then dropped moderators anyway, a bug not copied). The owner is compared by exact name;
    an empty owner (not known yet) owns nothing.
    """

    def __init__(self, robot_id: str, owner: str = '',
                 moderators: Sequence[str] = ()) -> None:
        self.robot_id = robot_id
        self.owner = owner
        self.moderators = frozenset(moderators)
        self.exclusive_user = ''
        self.exclusive_mods = False

    def is_owner(self, user: str) -> bool:
        """Whether ``user`` is the robot's owner."""
        return bool(self.owner) and user == self.owner

    def decide(self, command: Command) -> Verdict:
        """Return what to do with a command."""
        if command.robot_id != self.robot_id:
            return 'filtered'
        user = command.user
        if self.exclusive_user and user != self.exclusive_user and not self.is_owner(user) \
                and not (self.exclusive_mods and user in self.moderators):
            return 'excluded'
        return 'publish'

    def for_this_robot(self, robot_id: str) -> bool:
        """Whether an event naming ``robot_id`` (empty: none named) concerns this robot."""
        return not robot_id or robot_id == self.robot_id

    def chat(self, chat: ChatMessage) -> bool:
        """
        Apply a chat message's ``.exclusive`` command if the owner sent it.

        Returns True when the exclusive user changed. Anyone else's commands, other forms
        (see :func:`~robot_bridges.protocols.letsrobot.parse_chat_command`) and chat for
        another robot change nothing.
        """
        if not chat.is_command or not self.is_owner(chat.name):
            return False
        if not self.for_this_robot(chat.robot_id):
            return False
        command = parse_chat_command(chat.text)
        if isinstance(command, ExclusiveMods):
            self.exclusive_mods = command.enabled
            return False
        if not isinstance(command, ExclusiveControl):
            return False
        return self._set(command.user if command.active else '')

    def exclusive(self, event: ExclusiveControl) -> bool:
        """Apply the site's ``exclusive_control``; True when the exclusive user changed."""
        if not self.for_this_robot(event.robot_id):
            return False
        return self._set(event.user if event.active else '')

    def _set(self, user: str) -> bool:
        changed = user != self.exclusive_user
        self.exclusive_user = user
        return changed


# -- ffmpeg --------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoSpec:
    """
    One video stream: ``source`` is ``test``, ``v4l2:/dev/videoN`` or ``topic``.

    ``input_size`` and ``pixel_format`` describe the raw frames of a ``topic`` source.
    """

    source: str
    width: int
    height: int
    fps: int
    kbps: int
    input_size: tuple[int, int] = (0, 0)
    pixel_format: str = ''


@dataclass(frozen=True)
class AudioSpec:
    """One audio stream: ``source`` is ``test`` or ``alsa:hw:N``."""

    source: str
    kbps: int


def check_video_source(source: str) -> None:
    """Raise ValueError unless ``source`` is a video source the bridge knows."""
    if source in ('test', 'topic', 'none'):
        return
    if source.startswith('v4l2:') and source[5:].startswith('/dev/'):
        return
    raise ValueError(f"video_source {source!r}: expected 'test', 'v4l2:/dev/videoN', "
                     "'topic' or 'none'")


def check_audio_source(source: str) -> None:
    """Raise ValueError unless ``source`` is an audio source the bridge knows."""
    if source in ('test', 'none') or (source.startswith('alsa:') and len(source) > 5):
        return
    raise ValueError(f"audio_source {source!r}: expected 'test', 'alsa:hw:N' or 'none'")


def stream_url(scheme: str, host: str, port: int, stream_key: str, width: int,
               height: int) -> str:
    """Return ``{scheme}://{host}:{port}/{stream_key}/{w}/{h}/``."""
    if scheme not in ('http', 'https'):
        raise LocalProtocolError(f'relay_scheme {scheme!r}: expected http or https')
    netloc = f'[{host}]' if ':' in host else host
    return f'{scheme}://{netloc}:{port}{stream_path(stream_key, width, height)}'


def video_argv(ffmpeg: str, spec: VideoSpec, url: str) -> list[str]:
    """Return ffmpeg's arguments streaming ``spec`` as MPEG-1 in MPEG-TS to ``url``."""
    size = f'{spec.width}x{spec.height}'
    if spec.source == 'test':
        source = ['-nostdin', '-re', '-f', 'lavfi', '-i', f'testsrc=size={size}:rate={spec.fps}']
    elif spec.source.startswith('v4l2:'):
        source = ['-nostdin', '-f', 'v4l2', '-framerate', str(spec.fps), '-video_size', size,
                  '-i', spec.source[5:]]
    elif spec.source == 'topic':
        width, height = spec.input_size
        if not (width > 0 and height > 0 and spec.pixel_format):
            raise LocalProtocolError('a topic source needs the frame size and pixel format')
        # Frames arrive on stdin; EOF (our end closed, or we died) ends ffmpeg.
        source = ['-f', 'rawvideo', '-pix_fmt', spec.pixel_format,
                  '-video_size', f'{width}x{height}', '-framerate', str(spec.fps),
                  '-i', 'pipe:0']
    else:
        raise LocalProtocolError(f'no ffmpeg input for video source {spec.source!r}')
    return [ffmpeg, '-hide_banner', '-nostats', '-loglevel', 'warning', *source,
            '-an', '-f', 'mpegts', '-codec:v', 'mpeg1video', '-s', size, '-r', str(spec.fps),
            '-b:v', f'{spec.kbps}k', '-bf', '0', '-muxdelay', '0.001', '-method', 'POST', url]


def audio_argv(ffmpeg: str, spec: AudioSpec, url: str) -> list[str]:
    """Return ffmpeg's arguments streaming ``spec`` as MP2 in MPEG-TS to ``url``."""
    if spec.source == 'test':
        source = ['-re', '-f', 'lavfi', '-i', f'sine=frequency=440:sample_rate={AUDIO_RATE_HZ}']
    elif spec.source.startswith('alsa:'):
        source = ['-f', 'alsa', '-i', spec.source[5:]]
    else:
        raise LocalProtocolError(f'no ffmpeg input for audio source {spec.source!r}')
    return [ffmpeg, '-hide_banner', '-nostats', '-loglevel', 'warning', '-nostdin', *source,
            '-vn', '-f', 'mpegts', '-codec:a', 'mp2', '-b:a', f'{spec.kbps}k',
            '-ar', str(AUDIO_RATE_HZ), '-ac', '1', '-muxdelay', '0.001', '-method', 'POST', url]


def key_forms(stream_key: str) -> tuple[str, ...]:
    """Return every form the key takes in a command line or URL (plain, percent-quoted)."""
    if not stream_key:
        return ()
    return tuple({stream_key, quote(stream_key, safe='')})


def display_argv(argv: Sequence[str], stream_key: str) -> str:
    """Return the command line to log: the stream key replaced by ``***``."""
    return redact(shlex.join(argv), key_forms(stream_key))


def raw_format(encoding: str) -> tuple[str, int]:
    """Return (ffmpeg pixel format, bytes per pixel) for an Image encoding; ValueError else."""
    try:
        return RAW_FORMATS[encoding]
    except KeyError:
        raise ValueError(f'image encoding {encoding!r} is not one of '
                         f'{", ".join(RAW_FORMATS)}') from None


class FramePacer:
    """
    Let through at most ``fps`` frames a second on average; the rest are dropped (counted).

    Frames follow a schedule of one slot a period, started half a period before the first
    frame: frames at fps with jitter all pass, a faster source is thinned to fps. A frame
    that comes late takes its missed slot: frames a stalled executor delivers in a bunch
    pass too, up to ``catch_up`` periods late, so that no more than ``catch_up`` extra
    frames can ever pass at once.
    """

    def __init__(self, fps: float, catch_up: int = 3) -> None:
        self._period = 1.0 / fps
        self._catch_up_s = catch_up * self._period
        self._next: float | None = None
        self.dropped = 0

    def admit(self, now: float) -> bool:
        """Whether a frame arriving at ``now`` (seconds, monotonic) goes to the encoder."""
        if self._next is None:
            self._next = now - self._period / 2
        elif now < self._next:
            self.dropped += 1
            return False
        self._next = max(self._next, now - self._catch_up_s) + self._period
        return True
