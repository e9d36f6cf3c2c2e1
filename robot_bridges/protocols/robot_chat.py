"""
Robot Chat relay protocol (sans-I/O): JSON objects in text frames, one-to-all.

The server sends ``{"type": "users", "count": N}`` to every client on each connect and
disconnect and forwards every other frame verbatim to every other client.
"""

from __future__ import annotations

from dataclasses import dataclass
import json

from robot_bridges.protocols import json_text
# Re-exported: callers catch them from the protocol module they use.
from robot_bridges.protocols.errors import LocalProtocolError, RemoteProtocolError
from robot_bridges.protocols.text import excerpt

USERS_TYPE = 'users'


@dataclass(frozen=True, slots=True)
class UsersCount:
    """The server's count of connected clients."""

    count: int


@dataclass(frozen=True, slots=True)
class ChatObject:
    """
    Any other JSON object: ``kind`` is its "type" ('' if none), ``text`` the frame as received.

    ``text`` is strict JSON: a frame holding NaN or an infinity is written again with those
    numbers as null, and ``nulled`` counts them (0 for a frame passed on verbatim).
    """

    kind: str
    text: str
    nulled: int = 0


def parse_frame(frame: str | bytes) -> UsersCount | ChatObject:
    """
    Decode one received frame. Raises :class:`RemoteProtocolError` for anything invalid.

    The object's text is passed on as received (its escapes carry any string), so only the
    ``type`` string, which goes into a ROS string field, must be free of NUL and lone
    surrogates.
    """
    if isinstance(frame, bytes):
        try:
            frame = frame.decode('utf-8')
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(f'frame is not UTF-8 ({exc.reason})') from None
    value = json_text.loads_object(frame, RemoteProtocolError, ros_strings=False)
    kind = value.get('type', '')
    if type(kind) is not str:
        kind = ''
    elif not json_text.ros_string(kind):
        raise RemoteProtocolError(f'"type" {excerpt(kind)} holds a NUL or a lone surrogate')
    if kind == USERS_TYPE:
        count = value.get('count')
        if type(count) is int and 0 <= count < 2**32:
            return UsersCount(count)
        raise RemoteProtocolError(f'users frame with invalid count {excerpt(count)}')
    text, nulled = json_text.strict_text(frame, value, RemoteProtocolError)
    return ChatObject(kind, text, nulled)


def encode_object(text: str, type_hint: str = '') -> str:
    """
    Return the frame that sends ``text`` (a JSON object), adding ``"type"`` if missing.

    Raises :class:`LocalProtocolError` if ``text`` is not a JSON object (whatever it holds).
    """
    value = json_text.loads_object(text, LocalProtocolError, ros_strings=False)
    if type_hint and 'type' not in value:
        value['type'] = type_hint
        return json_text.dumps(value, LocalProtocolError, compact=False)[0]
    return text


def users_frame(count: int) -> str:
    """Return the server's users-count frame, spelled as the reference server spells it."""
    return json.dumps({'type': USERS_TYPE, 'count': count})
