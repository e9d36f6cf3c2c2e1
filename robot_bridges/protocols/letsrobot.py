"""
LetsRobot.tv robot API (sans-I/O): discovery answers and socket.io event payloads.

The robot first asks the info server over HTTP where everything is (``get_*`` routes, each
answering a small JSON object) and reads its settings from the API server; then it holds
four socket.io connections whose events carry JSON payloads. This module turns those decoded
JSON values into frozen dataclasses and builds what the robot emits; it imports no network
library. Payload facts are in ``PROTOCOLS.md`` section 2:

* ``command_to_robot``: ``{"robot_id", "command", "user", "key_position", "anonymous"}``;
  older servers nested the user as ``{"username", "anonymous"}``: both are accepted.
* ``chat_message_with_name``: ``{"_id", "name", "message": "[name] text", "robot_id",
  "room", "non_global", "username_color", "anonymous"}``; the text is what follows the
  first ``]``; a text starting with ``.`` is a chat command (``.exclusive <user>``, see
  :func:`parse_chat_command`).
* ``exclusive_control``: ``{"status": "start"|"end", "robot_id", ...}``. Which field names
  the user is not documented: ``user`` (a name or the nested object) or ``username`` is
  accepted here, as in ``command_to_robot``.
* ``message_removed``: ``{"message_id"}``.

Every parser raises only :class:`RemoteProtocolError` (the server's fault), for any value,
and every string it returns is bounded and can be carried by a ROS string (no NUL, no lone
surrogate). Builders raise :class:`LocalProtocolError` (the caller's fault).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

# Re-exported: callers catch them from the protocol module they use.
from robot_bridges.protocols.errors import LocalProtocolError, RemoteProtocolError
from robot_bridges.protocols.json_text import dumps, json_type, loads
from robot_bridges.protocols.text import excerpt

__all__ = [
    'ChatCommand', 'ChatMessage', 'Command', 'ExclusiveControl', 'ExclusiveMods', 'HostPort',
    'LocalProtocolError', 'MessageRemoved', 'RemoteProtocolError', 'Settings',
    'charge_state', 'parse_chat', 'parse_chat_command', 'parse_command', 'parse_exclusive',
    'parse_host', 'parse_host_port', 'parse_owner', 'parse_port', 'parse_removed',
    'parse_moderators', 'parse_settings', 'stream_path', 'video_status', 'ip_information',
]

# Events, by the socket they arrive on or leave by.
COMMAND_TO_ROBOT = 'command_to_robot'
CHAT_MESSAGE = 'chat_message_with_name'
EXCLUSIVE_CONTROL = 'exclusive_control'
SETTINGS_CHANGED = 'robot_settings_changed'
MESSAGE_REMOVED = 'message_removed'
ROBOT_ID = 'robot_id'
IDENTIFY = 'identify_robot_id'
VIDEO_STATUS = 'send_video_status'
CHARGE_STATE = 'charge_state'
IP_INFORMATION = 'ip_information'
# App-socket commands the reference's video side obeys (video/ffmpeg.py onCommandToRobot).
VIDEO_OFF = 'VIDOFF'
VIDEO_ON = 'VIDON'

KEY_POSITIONS = ('down', 'up', 'intermediate', '')
# Bounds of what the site sends: a name, a command button, a chat line, a settings document.
MAX_NAME_CHARS = 256
MAX_COMMAND_CHARS = 1024
MAX_MESSAGE_CHARS = 16_384
MAX_SETTINGS_CHARS = 262_144
MAX_MODERATORS = 1000
DEFAULT_RESOLUTION = (640, 480)
MAX_RESOLUTION = 8192

KeyPosition = Literal['down', 'up', 'intermediate', '']


# -- discovery (HTTP answers, already decoded from JSON) -----------------------------------

@dataclass(frozen=True, slots=True)
class HostPort:
    """Where a socket.io server (control, chat) listens."""

    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Settings:
    """The robot's settings from the API server: the resolution it streams at, and all."""

    xres: int | None
    yres: int | None
    text: str  # the whole settings object, compact strict JSON


def parse_host_port(value: Any) -> HostPort:
    """Read ``{"host": h, "port": p}`` (control and chat routes)."""
    obj = _object(value, 'host/port answer')
    return HostPort(_host(obj), _port_value(obj.get('port'), 'port'))


def parse_host(value: Any) -> str:
    """Read ``{"host": h}`` (the websocket relay route)."""
    return _host(_object(value, 'relay host answer'))


def parse_port(value: Any, named: str) -> int:
    """
    Read a stream port: ``{named: N}`` as the real server answered, or ``{"port": N}``.

    ``named`` is ``mpeg_stream_port`` (video) or ``audio_stream_port`` (audio). A bare
    number is accepted too.
    """
    if type(value) is int:
        return _port_value(value, 'port')
    obj = _object(value, f'{named} answer')
    if named in obj:
        return _port_value(obj[named], named)
    if 'port' in obj:
        return _port_value(obj['port'], 'port')
    raise RemoteProtocolError(f"answer has neither {named!r} nor 'port': {excerpt(obj)}")


def parse_owner(value: Any) -> str:
    """Read ``{"owner": name}``; an empty name is an error (the robot would have no owner)."""
    owner = _string(_object(value, 'owner answer'), 'owner', MAX_NAME_CHARS)
    if not owner:
        raise RemoteProtocolError('owner answer names no owner')
    return owner


def parse_moderators(value: Any) -> tuple[str, ...]:
    """
    Read the owner's account answer (``/api/v1/accounts/<owner>``): its ``moderators`` names.

    As the reference client's ``getOwnerDetails(owner)['moderators']``; a missing list reads
    as none.
    """
    obj = _object(value, 'account answer')
    names = obj.get('moderators', [])
    if type(names) is not list or len(names) > MAX_MODERATORS:
        raise RemoteProtocolError(f'moderators is JSON {json_type(names)} {excerpt(names)}, '
                                  f'not a list of at most {MAX_MODERATORS} names')
    return tuple(_string({'moderator': name}, 'moderator', MAX_NAME_CHARS) for name in names)


def parse_settings(value: Any) -> Settings:
    """Read the settings object; ``xres``/``yres`` are used when they are positive integers."""
    obj = _object(value, 'settings')
    text, _ = dumps(obj, RemoteProtocolError)
    if len(text) > MAX_SETTINGS_CHARS:
        raise RemoteProtocolError(f'settings of {len(text)} characters, over '
                                  f'{MAX_SETTINGS_CHARS}')
    loads(text, RemoteProtocolError)  # the same checks as a frame: no NUL, no lone surrogate
    return Settings(_resolution(obj.get('xres')), _resolution(obj.get('yres')), text)


def _host(obj: dict[str, Any]) -> str:
    host = _string(obj, 'host', MAX_NAME_CHARS)
    if not host or any(c in host for c in '/?#@ \t\r\n'):
        raise RemoteProtocolError(f'unusable host {excerpt(host)}')
    return host


def _port_value(value: Any, name: str) -> int:
    if type(value) is str and value.isdigit() and len(value) <= 5:
        value = int(value)  # some answers quote numbers
    if type(value) is not int:
        raise RemoteProtocolError(f'{name} is {json_type(value)} {excerpt(value)}, '
                                  'not a number')
    if not 1 <= value <= 65535:
        raise RemoteProtocolError(f'{name} {excerpt(value)} is out of range 1..65535')
    return value


def _resolution(value: Any) -> int | None:
    if type(value) is str and value.isdigit() and len(value) <= 5:
        value = int(value)
    if type(value) is int and 0 < value <= MAX_RESOLUTION:
        return value
    return None


# -- events the robot receives -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Command:
    """One ``command_to_robot``; ``user`` is empty when the site sent none."""

    robot_id: str
    command: str
    user: str
    key_position: KeyPosition
    anonymous: bool


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One ``chat_message_with_name``; ``text`` is what follows the first ``]``, stripped."""

    message_id: str
    name: str
    message: str
    text: str
    robot_id: str
    room: str
    non_global: bool
    anonymous: bool
    username_color: str

    @property
    def is_command(self) -> bool:
        """Whether the text is a chat command (starts with ``.``), not speech."""
        return self.text.startswith('.')


@dataclass(frozen=True, slots=True)
class ExclusiveControl:
    """Exclusive control turned on for ``user`` (``active``) or off; from chat or the site."""

    active: bool
    user: str
    robot_id: str = ''


@dataclass(frozen=True, slots=True)
class MessageRemoved:
    """A moderator removed the chat message with this id."""

    message_id: str


@dataclass(frozen=True, slots=True)
class ExclusiveMods:
    """``.exclusive mods on|off``: whether moderators may drive while exclusive control is on."""

    enabled: bool


@dataclass(frozen=True, slots=True)
class ChatCommand:
    """A chat command the bridge does not act on: its word (no dot) and the rest."""

    name: str
    argument: str


def parse_command(data: Any) -> Command:
    """Read a ``command_to_robot`` payload (either user shape)."""
    obj = _object(data, COMMAND_TO_ROBOT)
    command = _string(obj, 'command', MAX_COMMAND_CHARS)
    if not command:
        raise RemoteProtocolError(f'{COMMAND_TO_ROBOT} with an empty command')
    user, anonymous = _user(obj)
    position = _string(obj, 'key_position', 16, required=False)
    if position not in KEY_POSITIONS:
        raise RemoteProtocolError(f'unknown key_position {excerpt(position)}')
    return Command(_robot_id(obj, required=True), command, user, position,  # type: ignore
                   anonymous)


def parse_chat(data: Any) -> ChatMessage:
    """Read a ``chat_message_with_name`` payload."""
    obj = _object(data, CHAT_MESSAGE)
    message = _string(obj, 'message', MAX_MESSAGE_CHARS)
    _, bracket, rest = message.partition(']')
    return ChatMessage(
        message_id=_string(obj, '_id', MAX_NAME_CHARS, required=False),
        name=_string(obj, 'name', MAX_NAME_CHARS, required=False),
        message=message,
        text=(rest if bracket else message).strip(),
        robot_id=_robot_id(obj, required=False),
        room=_string(obj, 'room', MAX_NAME_CHARS, required=False),
        non_global=_bool(obj, 'non_global'),
        anonymous=_bool(obj, 'anonymous'),
        username_color=_string(obj, 'username_color', MAX_NAME_CHARS, required=False),
    )


def parse_exclusive(data: Any) -> ExclusiveControl:
    """Read an ``exclusive_control`` payload: ``status`` ``start`` (with a user) or ``end``."""
    obj = _object(data, EXCLUSIVE_CONTROL)
    status = _string(obj, 'status', 16)
    if status not in ('start', 'end'):
        raise RemoteProtocolError(f'exclusive_control status {excerpt(status)} is neither '
                                  "'start' nor 'end'")
    user = ''
    if status == 'start':
        user, _ = _user(obj) if 'user' in obj else (
            _string(obj, 'username', MAX_NAME_CHARS), False)
        if not user:
            raise RemoteProtocolError('exclusive_control start names no user')
    return ExclusiveControl(status == 'start', user, _robot_id(obj, required=False))


def parse_removed(data: Any) -> MessageRemoved:
    """Read a ``message_removed`` payload."""
    message_id = _string(_object(data, MESSAGE_REMOVED), 'message_id', MAX_NAME_CHARS)
    if not message_id:
        raise RemoteProtocolError('message_removed with an empty message_id')
    return MessageRemoved(message_id)


def parse_chat_command(text: str) -> ExclusiveControl | ExclusiveMods | ChatCommand | None:
    """
    Read a chat command from a message's text; None if the text is not a command.

    As the reference client (letsRobot/letsrobot ``extended_command.py``, commit
    8e82f13186ca14d9ba2e3cab8a690358c0f269e4): the text is split on single spaces, the
    command word is matched exactly (``.exclusive``, not ``.EXCLUSIVE``), and of
    ``.exclusive`` only these forms act: ``.exclusive off`` (off), ``.exclusive <user>`` (on
    for ``<user>``, whatever the name, ``mods`` too), ``.exclusive mods on|off``
    (:class:`ExclusiveMods`). Any other form (a bare ``.exclusive``, extra words) and any
    other command come back as :class:`ChatCommand`, which changes nothing.
    """
    if not text.startswith('.'):
        return None
    words = text.strip().split(' ')
    name, argument = words[0][1:], ' '.join(words[1:])
    if words[0] != '.exclusive' or len(words) < 2:
        return ChatCommand(name, argument)
    if words[1] == 'off':
        return ExclusiveControl(False, '')
    if len(words) == 2:
        return ExclusiveControl(True, words[1])
    if words[1] == 'mods' and words[2] in ('on', 'off'):
        return ExclusiveMods(words[2] == 'on')
    return ChatCommand(name, argument)


# -- what the robot emits ------------------------------------------------------------------

def video_status(process_exists: bool, camera_id: str) -> dict[str, Any]:
    """
    Return the ``send_video_status`` payload.

    ``camera_id`` goes out as the type the site gave it: the site's ids are numbers, and the
    reference client sent them as JSON numbers (``getint``); an id that is not all digits
    stays a string.
    """
    if not camera_id:
        raise LocalProtocolError('send_video_status needs a camera_id')
    return {'send_video_process_exists': bool(process_exists),
            'camera_id': _site_id(camera_id)}


def ip_information(ip: str, robot_id: str) -> dict[str, Any]:
    """Return the ``ip_information`` payload, ``{ip, robot_id}``."""
    if not ip or not robot_id:
        raise LocalProtocolError('ip_information needs an ip and a robot_id')
    return {'ip': ip, 'robot_id': robot_id}


def _site_id(value: str) -> int | str:
    # A number only where it reads back the same: '0123' stays a string.
    number = value.isascii() and value.isdigit() and len(value) < 19 and str(int(value)) == value
    return int(value) if number else value


def charge_state(robot_id: str, charging: bool) -> dict[str, Any]:
    """Return the ``charge_state`` payload."""
    if not robot_id:
        raise LocalProtocolError('charge_state needs a robot_id')
    return {'robot_id': robot_id, 'charging': bool(charging)}


def stream_path(stream_key: str, width: int, height: int) -> str:
    """Return the relay's POST path, ``/<stream_key>/<w>/<h>/`` (the key percent-quoted)."""
    if not (0 < width <= MAX_RESOLUTION and 0 < height <= MAX_RESOLUTION):
        raise LocalProtocolError(f'stream size {excerpt(width)}x{excerpt(height)} out of '
                                 'range')
    return f'/{_quoted(stream_key, "stream key")}/{width}/{height}/'


def discovery_paths(robot_id: str, camera_id: str) -> dict[str, str]:
    """Return the info-server routes by name (``camera_id`` empty: no stream routes)."""
    if not robot_id:
        raise LocalProtocolError('discovery needs a robot_id')
    robot = _quoted(robot_id, 'robot_id')
    paths = {
        'control': f'/get_control_host_port/{robot}',
        'chat': f'/get_chat_host_port/{robot}',
        'owner': f'/get_robot_owner/{robot}',
    }
    if camera_id:
        camera = _quoted(camera_id, 'camera_id')
        paths |= {
            'relay': f'/get_websocket_relay_host/{camera}',
            'video_port': f'/get_video_port/{camera}',
            'audio_port': f'/get_audio_port/{camera}',
        }
    return paths


def account_path(owner: str) -> str:
    """Return the API server's account route of the owner (its moderators)."""
    return f'/api/v1/accounts/{_quoted(owner, "owner")}'


def settings_path(robot_id: str) -> str:
    """Return the API server's settings route."""
    return f'/api/v1/robots/{_quoted(robot_id, "robot_id")}'


def _quoted(value: str, what: str) -> str:
    """Percent-quote one path segment; a lone surrogate (no UTF-8 form) is our error."""
    try:
        return quote(value, safe='')
    except UnicodeEncodeError:
        raise LocalProtocolError(f'{what} holds a lone surrogate') from None


# -- field readers -------------------------------------------------------------------------

def _object(value: Any, what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise RemoteProtocolError(f'{what} is JSON {json_type(value)} {excerpt(value)}, '
                                  'not an object')
    return value


def _string(obj: dict[str, Any], key: str, limit: int, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ''
    if type(value) is not str:
        raise RemoteProtocolError(f'{key} is JSON {json_type(value)} {excerpt(value)}, '
                                  'not a string')
    return _checked_text(value, key, limit)


def _checked_text(value: str, key: str, limit: int) -> str:
    if len(value) > limit:
        raise RemoteProtocolError(f'{key} of {len(value)} characters, over {limit}')
    if '\x00' in value:
        raise RemoteProtocolError(f'{key} holds a NUL character')
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        raise RemoteProtocolError(f'{key} holds a lone surrogate') from None
    return value


def _bool(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if type(value) is not bool:
        raise RemoteProtocolError(f'{key} is JSON {json_type(value)} {excerpt(value)}, '
                                  'not a boolean')
    return value


def _robot_id(obj: dict[str, Any], *, required: bool) -> str:
    value = obj.get('robot_id')
    if value is None and not required:
        return ''
    if type(value) is int:
        return str(value)  # robot ids are digits; some servers sent them as numbers
    return _string(obj, 'robot_id', MAX_NAME_CHARS)


def _user(obj: dict[str, Any]) -> tuple[str, bool]:
    """Return (name, anonymous) from ``"user": name`` or ``"user": {"username", ...}``."""
    user = obj.get('user')
    if type(user) is dict:
        return (_string(user, 'username', MAX_NAME_CHARS, required=False),
                _bool(user, 'anonymous') or _bool(obj, 'anonymous'))
    if user is None or type(user) is str:
        return _string(obj, 'user', MAX_NAME_CHARS, required=False), _bool(obj, 'anonymous')
    raise RemoteProtocolError(f'user is JSON {json_type(user)} {excerpt(user)}, '
                              'neither a name nor an object')
