"""
Robot Chat relay protocol (sans-I/O): JSON objects in text frames, one-to-all.

The server sends ``{"type": "users", "count": N}`` to every client on each connect and
disconnect and forwards every other frame verbatim to every other client.
"""

from __future__ import annotations

from dataclasses import dataclass
import json

# Re-exported: callers catch them from the protocol module they use.
from robot_bridges.protocols.errors import LocalProtocolError, RemoteProtocolError

USERS_TYPE = 'users'


@dataclass(frozen=True, slots=True)
class UsersCount:
    """The server's count of connected clients."""

    count: int


@dataclass(frozen=True, slots=True)
class ChatObject:
    """Any other JSON object: ``kind`` is its "type" ( if none), ``text`` the frame as received."""

    kind: str
    text: str


def parse_frame(frame: str | bytes) -> UsersCount | ChatObject:
    """Decode one received frame. Raises :class:`RemoteProtocolError` for anything invalid."""
    if isinstance(frame, bytes):
        try:
            frame = frame.decode('utf-8')
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(f'frame is not UTF-8 ({exc.reason})') from None
    try:
        value = json.loads(frame)
    except ValueError as exc:
        raise RemoteProtocolError(f'frame is not JSON ({exc})') from None
    if not isinstance(value, dict):
        raise RemoteProtocolError(f'frame is JSON {type(value).__name__}, not an object')
    kind = value.get('type', '')
    if not isinstance(kind, str):
        kind = ''
    if kind == USERS_TYPE:
        count = value.get('count')
        if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < 2**32:
            return UsersCount(count)
        raise RemoteProtocolError(f'users frame with invalid count {count!r}')
    return ChatObject(kind, frame)


def encode_object(json_text: str, type_hint: str = '') -> str:
    """
    Return the frame that sends ``json_text`` (a JSON object), adding ``"type"`` if missing.

    Raises :class:`LocalProtocolError` if ``json_text`` is not a JSON object.
    """
    try:
        value = json.loads(json_text)
    except ValueError as exc:
        raise LocalProtocolError(f'not JSON ({exc})') from None
    if not isinstance(value, dict):
        raise LocalProtocolError(f'JSON {type(value).__name__}, not an object')
    if type_hint and 'type' not in value:
        value['type'] = type_hint
        return json.dumps(value)
    return json_text


def users_frame(count: int) -> str:
    """Return the server's users-count frame, spelled as the reference server spells it."""
    return json.dumps({'type': USERS_TYPE, 'count': count})
