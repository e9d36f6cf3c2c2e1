"""
Reachy's websocket IO for the Unity simulator (sans-I/O): the lockstep sync frames.

The Python side is the server. Each cycle it sends the goals (the reference server sent a
BINARY frame holding UTF-8 JSON)::

    {"motors": [{"name": "left_arm.shoulder_pitch", "goal_position": 90.0}, ...],
     "disks": [{"name": "head.disk_bottom", "goal_position": -60.0}, ...]}

and the client answers with exactly one TEXT frame::

    {"motors": [{"name": "...", "present_position": 12.5}, ...],
     "left_eye": "<base64 JPEG>", "right_eye": "<base64 JPEG>",
     "left_force_sensor": 0.0, "right_force_sensor": 0.0}

Positions are motor-frame degrees. Eyes and force values are optional. Both directions are
here: the bridge encodes goals and parses replies, the simulator parses goals and encodes
replies. Only :class:`RemoteProtocolError` / :class:`LocalProtocolError` leave this module.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
import json
import math
from typing import Any, Collection, Mapping, Sequence

from robot_bridges.protocols import json_text
# Re-exported: callers catch them from the protocol module they use.
from robot_bridges.protocols.errors import LocalProtocolError, RemoteProtocolError
from robot_bridges.protocols.text import excerpt

JPEG_SOI = b'\xff\xd8'
EYES = ('left_eye', 'right_eye')
FORCE_SENSORS = ('left_force_sensor', 'right_force_sensor')
# How many unknown motor names a reply reports by name (the count is always exact).
MAX_NAMED_UNKNOWN = 4


@dataclass(frozen=True, slots=True)
class Reply:
    """
    One client reply: what the server keeps of it.

    ``present`` maps known motor names to motor-frame degrees (unknown names are skipped:
    ``unknown_count`` of them, the first few in ``unknown``; a known motor whose position is
    not a finite number is skipped too: ``bad_positions`` of them, the first few named in
    ``problems``). An eye is its JPEG bytes, or None when absent or unusable; a force is
    None when absent or unusable. ``problems`` says what was skipped and why (bounded
    excerpts): the rest of the reply is still good.
    """

    present: dict[str, float]
    left_eye: bytes | None = None
    right_eye: bytes | None = None
    left_force: float | None = None
    right_force: float | None = None
    unknown: tuple[str, ...] = ()
    unknown_count: int = 0
    problems: tuple[str, ...] = ()
    bad_positions: int = 0


@dataclass(frozen=True, slots=True)
class Goals:
    """One goal frame as the client sees it: motor and disk names to motor-frame degrees."""

    motors: dict[str, float]
    disks: dict[str, float]


class GoalEncoder:
    """
    Encodes the goal frame for a fixed list of motors and disks, fast.

    The JSON text around each value is built once; a cycle only formats the numbers.
    """

    def __init__(self, motors: Sequence[str], disks: Sequence[str] = ()) -> None:
        """Prepare the frame for these wire names (in this order)."""
        self._motor_count = len(motors)
        self._disk_count = len(disks)
        self._prefixes = [self._prefix(name) for name in (*motors, *disks)]

    @staticmethod
    def _prefix(name: str) -> str:
        text, _ = json_text.dumps(name, LocalProtocolError)
        return '{"name":' + text + ',"goal_position":'

    def encode(self, goals: Sequence[float], binary: bool = True) -> str | bytes:
        """
        Return the frame for ``goals`` (motors first, then disks, in the constructor's order).

        ``binary`` gives UTF-8 bytes (a binary frame, as the reference server sent), else
        text. Raises :class:`LocalProtocolError` for a wrong count or a non-finite goal.
        """
        prefixes = self._prefixes
        if len(goals) != len(prefixes):
            raise LocalProtocolError(f'expected {len(prefixes)} goals, got {len(goals)}')
        items = []
        for prefix, goal in zip(prefixes, goals):
            value = _float(goal)
            if not math.isfinite(value):
                raise LocalProtocolError(f'goal {excerpt(goal)} in {prefix[8:-17]} is not '
                                         'finite')
            items.append(prefix + repr(value) + '}')
        split = self._motor_count
        text = ('{"motors":[' + ','.join(items[:split]) + '],"disks":[' +
                ','.join(items[split:]) + ']}')
        return text.encode('utf-8') if binary else text


def parse_reply(frame: str | bytes, known: Collection[str]) -> Reply:
    """
    Decode one client reply; keep present positions of the ``known`` motor names.

    Raises :class:`RemoteProtocolError` when the frame is unusable as a whole: not a JSON
    object, no ``motors`` array, an entry that is not an object with a string ``name``. A
    present position that is not a finite number (Unity's JSON writes a NaN as ``NaN``), a
    bad eye (not a string, not base64, not a JPEG) or force value (not a finite number) is
    skipped and named in ``problems``: the rest of the reply is used. An empty eye string is
    what Unity sends before its camera rendered a frame: no eye, and no problem.
    """
    value = json_text.loads_object(frame, RemoteProtocolError)
    entries = _entries(value, 'motors', required=True)
    entries += _entries(value, 'disks', required=False)  # the seed's client never sends it
    present: dict[str, float] = {}
    unknown: list[str] = []
    unknown_count = 0
    bad_positions = 0
    problems: list[str] = []
    for entry in entries:
        name, position = _present(entry)
        if name not in known:
            unknown_count += 1
            if len(unknown) < MAX_NAMED_UNKNOWN:
                unknown.append(excerpt(name))
        elif position is None:
            bad_positions += 1
            if bad_positions <= MAX_NAMED_UNKNOWN:
                problems.append(f'motor {excerpt(name)}: present_position '
                                f'{excerpt(entry.get("present_position"))} is not a finite '
                                'number')
        else:
            present[name] = position
    eyes = [_eye(value, key, problems) for key in EYES]
    forces = [_force(value, key, problems) for key in FORCE_SENSORS]
    return Reply(present, eyes[0], eyes[1], forces[0], forces[1], tuple(unknown),
                 unknown_count, tuple(problems), bad_positions)


def _entries(value: dict[str, Any], key: str, required: bool) -> list[Any]:
    entries = value.get(key)
    if entries is None and not required:
        return []
    if type(entries) is not list:
        found = 'no' if entries is None else f'a JSON {json_text.json_type(entries)} as'
        raise RemoteProtocolError(f'reply has {found} "{key}", not an array')
    return entries


def _present(entry: Any) -> tuple[str, float | None]:
    if type(entry) is not dict:
        raise RemoteProtocolError(f'motor entry {excerpt(entry)} is not an object')
    name = entry.get('name')
    if type(name) is not str:
        raise RemoteProtocolError(f'motor entry {excerpt(entry)}: "name" is not a string')
    return name, _finite(entry.get('present_position'))


def _float(value: Any) -> float:
    """Return what we were given to send as a float; NaN if it is not a number in range."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _finite(value: Any) -> float | None:
    """Return a finite JSON number as a float, else None (huge integers included)."""
    number = json_text.number(value)
    return number if number is not None and math.isfinite(number) else None


def _eye(value: dict[str, Any], key: str, problems: list[str]) -> bytes | None:
    text = value.get(key)
    if text is None or text == '':
        return None
    if type(text) is not str:
        problems.append(f'{key} is a JSON {json_text.json_type(text)}, not a base64 string')
        return None
    try:
        jpeg = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        problems.append(f'{key} is not base64 ({exc})')
        return None
    if not jpeg.startswith(JPEG_SOI):
        problems.append(f'{key} is not a JPEG (starts with {excerpt(jpeg[:8])})')
        return None
    return jpeg


def _force(value: dict[str, Any], key: str, problems: list[str]) -> float | None:
    force = value.get(key)
    if force is None:
        return None
    finite = _finite(force)
    if finite is None:
        problems.append(f'{key} {excerpt(force)} is not a finite number')
    return finite


# -- the client's side (the simulator) -------------------------------------------------


def parse_goals(frame: str | bytes) -> Goals:
    """
    Decode one goal frame. Raises :class:`RemoteProtocolError` for anything invalid.

    ``disks`` may be absent (an empty mapping then).
    """
    value = json_text.loads_object(frame, RemoteProtocolError)
    return Goals(_goals(_entries(value, 'motors', required=True)),
                 _goals(_entries(value, 'disks', required=False)))


def _goals(entries: list[Any]) -> dict[str, float]:
    goals: dict[str, float] = {}
    for entry in entries:
        if type(entry) is not dict:
            raise RemoteProtocolError(f'goal entry {excerpt(entry)} is not an object')
        name = entry.get('name')
        goal = _finite(entry.get('goal_position'))
        if type(name) is not str:
            raise RemoteProtocolError(f'goal entry {excerpt(entry)}: "name" is not a string')
        if goal is None:
            raise RemoteProtocolError(f'motor {excerpt(name)}: goal_position '
                                      f'{excerpt(entry.get("goal_position"))} is not a finite '
                                      'number')
        goals[name] = goal
    return goals


def b64_jpeg(jpeg: bytes) -> str:
    """Return a JPEG as the base64 text a reply carries."""
    return base64.b64encode(jpeg).decode('ascii')


def encode_reply(present: Mapping[str, float], *, left_eye: str | None = None,
                 right_eye: str | None = None, left_force: float | None = None,
                 right_force: float | None = None) -> str:
    """
    Return the text frame answering one goal frame.

    Eyes are base64 text (:func:`b64_jpeg`, so a client can encode each image once); a
    None eye or force is left out. Raises :class:`LocalProtocolError` for a non-finite
    position or force.
    """
    for name, value in (*present.items(), ('left_force', left_force),
                        ('right_force', right_force)):
        if value is not None and not math.isfinite(_float(value)):
            raise LocalProtocolError(f'{excerpt(name)} {excerpt(value)} is not a finite number')
    reply: dict[str, Any] = {'motors': [
        {'name': name, 'present_position': position} for name, position in present.items()]}
    for key, eye in zip(EYES, (left_eye, right_eye)):
        if eye is not None:
            reply[key] = eye
    for key, force in zip(FORCE_SENSORS, (left_force, right_force)):
        if force is not None:
            reply[key] = force
    try:
        return json.dumps(reply, separators=(',', ':'), allow_nan=False)
    except (ValueError, TypeError) as exc:
        raise LocalProtocolError(f'reply cannot be encoded: {exc}') from None
