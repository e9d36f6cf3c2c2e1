"""
Victor webViz protocol (sans-I/O): JSON objects in text frames, one module per push.

Client -> robot: ``{"type": "subscribe"|"unsubscribe", "module": m}``,
``{"type": "data", "module": m, "data": {...}}`` and ``{"keepalive": ...}``.
Robot -> client: ``{"module": m, "data": <json>}`` pushes, sent only to subscribers of
``m``, and ``{"keepalive": true}`` answers. The robot's JSON writer may indent over several
lines, so everything here goes through a JSON parser, never through string matching.

Both ends live here: the ``parse_push`` / ``*_frame`` side is the bridge's, the
``parse_request`` / ``push_frame`` side is the robot's (used by the simulator).
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from math import nan
from typing import Any, Literal

from robot_bridges.protocols import json_text
# Re-exported: callers catch them from the protocol module they use.
from robot_bridges.protocols.errors import LocalProtocolError, RemoteProtocolError
from robot_bridges.protocols.json_text import json_type as _json_type
from robot_bridges.protocols.text import excerpt as _short

MICDATA = 'micdata'
# Directions run clockwise from straight ahead in 30 degree steps; 12 means unknown.
DIRECTION_COUNT = 12
DIRECTION_UNKNOWN = 12
# ``directions`` holds one confidence per direction plus one for "unknown".
CONFIDENCE_COUNT = DIRECTION_COUNT + 1
# Firmware variants name the winning direction differently (see PROTOCOLS.md section 1).
DirectionField = Literal['dominant', 'direction', 'both']
DIRECTION_FIELDS: tuple[str, ...] = ('dominant', 'direction', 'both')

_FLOAT32_MAX = 3.4028234663852886e38
_FLOAT64_MAX = 1.7976931348623157e308
_INT32_MIN, _INT32_MAX = -2**31, 2**31 - 1
_COMPACT = (',', ':')


# -- robot -> client ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Push:
    """One module push; ``data`` is the decoded JSON value (any JSON type)."""

    module: str
    data: Any


@dataclass(frozen=True, slots=True)
class KeepaliveAck:
    """The robot's answer to a keepalive."""


@dataclass(frozen=True, slots=True)
class MicData:
    """
    The fields of one micdata payload that a bridge uses, validated.

    ``robot_time`` is NaN when the robot sent no ``time``; ``directions`` is empty when it
    sent no ``directions`` (otherwise exactly 13 finite numbers, as decoded). The fields
    after ``active_state`` are named after the firmware's (``selectedDirection``,
    ``maxConfidence``, ``delayTime`` in ms, ``latestPowerValue``, ``latestNoiseFloor``,
    ``beatDetector.confidence`` / ``.tempo_bpm``); one the robot did not send is
    :data:`DIRECTION_UNKNOWN` (selected direction), -1 (delay) or NaN (the numbers).
    """

    robot_time: float
    direction: int
    confidence: float
    directions: list[float]
    trigger_detected: bool
    active_state: int
    selected_direction: int = DIRECTION_UNKNOWN
    max_confidence: float = nan
    delay_time_ms: int = -1
    latest_power_value: float = nan
    latest_noise_floor: float = nan
    beat_confidence: float = nan
    beat_tempo_bpm: float = nan


def parse_push(frame: str | bytes) -> Push | KeepaliveAck:
    """Decode one frame from the robot. Raises :class:`RemoteProtocolError` if invalid."""
    value = _decode_object(frame)
    module = value.get('module')
    if module is not None:
        if not isinstance(module, str) or not module:
            raise RemoteProtocolError(f'push with invalid module name {_short(module)}')
        if 'data' not in value:
            raise RemoteProtocolError(f'push of module {_short(module)} without data')
        return Push(module, value['data'])
    if 'keepalive' in value:
        return KeepaliveAck()
    raise RemoteProtocolError(f'JSON object is neither a push nor a keepalive: {_keys(value)}')


def parse_micdata(data: Any) -> MicData:
    """
    Validate a micdata payload. Raises :class:`RemoteProtocolError` naming the bad field.

    The winning direction is read from ``direction`` (later firmware) or else ``dominant``
    (older firmware); ``confidence`` is required, the other fields are optional.
    """
    if not isinstance(data, dict):
        raise RemoteProtocolError(f'micdata is JSON {_json_type(data)}, not an object')
    if 'direction' in data:
        direction = _integer(data, 'direction', 0, DIRECTION_UNKNOWN)
    elif 'dominant' in data:
        direction = _integer(data, 'dominant', 0, DIRECTION_UNKNOWN)
    else:
        raise RemoteProtocolError('micdata without "direction" or "dominant"')
    confidence = _number(data, 'confidence', _FLOAT32_MAX)
    robot_time = _number(data, 'time', _FLOAT64_MAX) if 'time' in data else nan
    directions = data.get('directions')
    if directions is None:
        directions = []
    elif not _confidences(directions):
        raise RemoteProtocolError(
            f'micdata "directions" is not a list of {CONFIDENCE_COUNT} finite numbers: '
            f'{_short(directions)}')
    trigger = data.get('triggerDetected', False)
    if type(trigger) is not bool:
        raise RemoteProtocolError(f'micdata "triggerDetected" is not a boolean: {_short(trigger)}')
    active_state = _integer(data, 'activeState', _INT32_MIN, _INT32_MAX) \
        if 'activeState' in data else 0
    beat = data.get('beatDetector', {})
    if not isinstance(beat, dict):
        raise RemoteProtocolError(f'micdata "beatDetector" is not an object: {_short(beat)}')
    return MicData(
        robot_time, direction, confidence, directions, trigger, active_state,
        selected_direction=_integer(data, 'selectedDirection', 0, DIRECTION_UNKNOWN)
        if 'selectedDirection' in data else DIRECTION_UNKNOWN,
        max_confidence=_optional_number(data, 'maxConfidence', _FLOAT32_MAX),
        delay_time_ms=_integer(data, 'delayTime', _INT32_MIN, _INT32_MAX)
        if 'delayTime' in data else -1,
        latest_power_value=_optional_number(data, 'latestPowerValue', _FLOAT64_MAX),
        latest_noise_floor=_optional_number(data, 'latestNoiseFloor', _FLOAT64_MAX),
        beat_confidence=_optional_number(beat, 'confidence', _FLOAT32_MAX, 'beatDetector.'),
        beat_tempo_bpm=_optional_number(beat, 'tempo_bpm', _FLOAT32_MAX, 'beatDetector.'))


def subscribe_frame(module: str) -> str:
    """Return the frame that subscribes to ``module`` (matched exactly, lower case)."""
    return json.dumps({'type': 'subscribe', 'module': _module(module)})


def unsubscribe_frame(module: str) -> str:
    """Return the frame that unsubscribes from ``module``."""
    return json.dumps({'type': 'unsubscribe', 'module': _module(module)})


def keepalive_frame() -> str:
    """Return a keepalive frame (what the robot's own page sends); the robot answers it."""
    return '{"keepalive": true}'


#: What the firmware's request handlers read as strings (``asString()``, which throws, and
#: ends the engine process, for an object or an array): webService.cpp and the module
#: handlers of digital-dream-labs/vector at 360cccbf7ab2db049b4b15c25cc3169e269ca741.
REQUEST_STRINGS: dict[str, tuple[str, ...]] = {
    'intents': ('intentType', 'request'),
    'behaviors': ('behaviorName',),
    'animations': ('type', 'animation'),
}


def check_request(module: str, value: Any) -> None:
    """
    Raise :class:`LocalProtocolError` naming what is wrong unless the robot accepts ``value``.

    Every module takes a JSON object; ``intents``, ``behaviors`` and ``animations`` also need
    the string fields of :data:`REQUEST_STRINGS` (present, strings).
    """
    if not isinstance(value, dict):
        raise LocalProtocolError(f'request is JSON {_json_type(value)}, not an object')
    for name in REQUEST_STRINGS.get(module, ()):
        if name not in value:
            raise LocalProtocolError(f'{module} request without "{name}" (a string)')
        if not isinstance(value[name], str):
            raise LocalProtocolError(f'{module} request "{name}" is JSON '
                                     f'{_json_type(value[name])}, not a string (it would '
                                     f'crash the engine process of the robot)')


def data_frame(module: str, text: str) -> str:
    """
    Return the frame that sends ``text`` (a JSON object) as a module request.

    Raises :class:`LocalProtocolError` if ``text`` is not JSON, not an object, or not of the
    shape the module's firmware handler accepts (:func:`check_request`).
    """
    try:
        value = json_text.loads_object(text, LocalProtocolError, ros_strings=False)
    except LocalProtocolError as exc:
        raise LocalProtocolError(f'request is {exc}') from None
    check_request(module, value)
    return json_text.dumps({'type': 'data', 'module': _module(module), 'data': value},
                           LocalProtocolError)[0]


def url(host: str, port: int, path: str) -> str:
    """
    Return the ``ws://`` URL of a webViz server; raises :class:`LocalProtocolError`.

    The robot serves plain websockets (no TLS, no authentication) on ``/socket``. Errors
    never repeat credentials or a query given by mistake (they may be secrets).
    """
    if '@' in host:
        raise LocalProtocolError('invalid host: the robot takes no credentials (user:password@'
                                 f'), got ...@{host.rsplit("@", 1)[1]!r}')
    if not host or any(c in host for c in '/?# '):
        raise LocalProtocolError(f'invalid host {host.split("?", 1)[0]!r}')
    if not 0 < port < 65536:
        raise LocalProtocolError(f'port must be in 1..65535, got {port}')
    if not path.startswith('/') or any(c in path for c in '?# '):
        shown = path.split('?', 1)[0].split('#', 1)[0]
        raise LocalProtocolError(f'path must start with / and hold no query or fragment, got '
                                 f'{shown!r}' + (' (the rest not shown)' if shown != path else ''))
    if ':' in host and not host.startswith('['):
        host = f'[{host}]'
    return f'ws://{host}:{port}{path}'


def compact_json(data: Any) -> tuple[str, int]:
    """
    Encode ``data`` as compact strict JSON (how bridges republish a push's data).

    Returns the text and how many non-finite numbers (NaN, infinities) became null.
    Raises :class:`RemoteProtocolError` for data that cannot be written (too deep).
    """
    return json_text.dumps(data, RemoteProtocolError)


# -- client -> robot (the robot's side, for simulators) ----------------------------------

@dataclass(frozen=True, slots=True)
class Subscribe:
    """A client subscribes to a module."""

    module: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """A client unsubscribes from a module."""

    module: str


@dataclass(frozen=True, slots=True)
class DataRequest:
    """A module-specific request."""

    module: str
    data: Any


@dataclass(frozen=True, slots=True)
class Keepalive:
    """A keepalive; answer with :func:`keepalive_answer`."""


Request = Subscribe | Unsubscribe | DataRequest | Keepalive


def parse_request(frame: str | bytes) -> Request | None:
    """
    Decode a frame as the robot does; None for anything the robot ignores.

    Mirrors the firmware: only text frames of at least 2 bytes starting with ``{`` are
    parsed; a frame with both ``type`` and ``module`` is a request (unknown types are
    dropped, a data request needs non-null ``data``); otherwise a non-null ``keepalive``
    asks for an answer.
    """
    if not isinstance(frame, str) or len(frame) < 2 or frame[0] != '{':
        return None
    try:
        value = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    kind = value.get('type')
    module = value.get('module')
    if kind is not None and module is not None:
        if not isinstance(module, str) or not module:
            return None
        if kind == 'subscribe':
            return Subscribe(module)
        if kind == 'unsubscribe':
            return Unsubscribe(module)
        if kind == 'data' and value.get('data') is not None:
            return DataRequest(module, value['data'])
        return None
    if value.get('keepalive') is not None:
        return Keepalive()
    return None


def push_frame(module: str, data: Any, pretty: bool = False) -> str:
    """
    Return the robot's push frame; ``pretty`` writes it as the robot's writer does.

    The robot serializes with jsoncpp's ``operator<<`` (:func:`styled_json`).
    """
    if pretty:
        return styled_json({'module': module, 'data': data})
    return json.dumps({'module': module, 'data': data}, separators=_COMPACT)


def styled_json(value: Any) -> str:
    """
    Write ``value`` as jsoncpp's styled stream writer does (what ``ss << value`` gives).

    Keys in byte order; tab indentation; ``"key" : value``; an object or a multi-line array
    that is a member's value starts on a line of its own; an array is one line
    (``[ 1, 2 ]``) unless it holds a non-empty array or object, has 25 elements or more, or
    its line would reach 74 characters: then one element per line. Doubles with 17
    significant digits, a whole double keeps ``.0``; non-ASCII escaped. The rules are
    jsoncpp 1.x's ``StyledStreamWriter`` (the writer behind ``operator<<``, which
    webService.cpp uses); the firmware's own copy of jsoncpp is not in the public tree, so
    its version is inferred.
    Raises ValueError for a value JSON cannot hold.
    """
    out: list[str] = []
    _Styled(out).value(value, indented=True)
    return ''.join(out)


class _Styled:
    _MARGIN = 74

    def __init__(self, out: list[str]) -> None:
        self._out = out
        self._indent = ''

    def value(self, value: Any, indented: bool) -> None:
        out = self._out
        if isinstance(value, dict) and value:
            self._line('{', indented)
            self._indent += '\t'
            items = sorted(value.items(), key=_byte_order)
            for index, (key, child) in enumerate(items):
                self._line(_scalar(str(key)), False)
                out.append(' : ')
                self.value(child, indented=False)
                if index < len(items) - 1:
                    out.append(',')
            self._indent = self._indent[:-1]
            self._line('}', False)
        elif isinstance(value, (list, tuple)) and value:
            simple = self._one_line(value)
            if simple is not None:
                out.append('[ ' + ', '.join(simple) + ' ]')
                return
            self._line('[', indented)
            self._indent += '\t'
            for index, child in enumerate(value):
                self._line('', False)
                self.value(child, indented=True)
                if index < len(value) - 1:
                    out.append(',')
            self._indent = self._indent[:-1]
            self._line(']', False)
        else:
            out.append(_scalar(value))

    def _line(self, text: str, indented: bool) -> None:
        if not indented:
            self._out.append('\n' + self._indent)
        self._out.append(text)

    def _one_line(self, values: list[Any] | tuple[Any, ...]) -> list[str] | None:
        if len(values) * 3 >= self._MARGIN:
            return None
        if any(isinstance(v, (list, tuple, dict)) and v for v in values):
            return None
        parts = [_scalar(v) for v in values]
        if 4 + (len(values) - 1) * 2 + sum(len(p) for p in parts) >= self._MARGIN:
            return None
        return parts


def _byte_order(item: tuple[str, Any]) -> bytes:
    # jsoncpp's std::map orders keys by their UTF-8 bytes.
    return str(item[0]).encode('utf-8', 'surrogatepass')


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        if value != value or value in (float('inf'), float('-inf')):
            return 'null'
        text = '%.17g' % value
        return text if '.' in text or 'e' in text else text + '.0'
    if isinstance(value, (dict, list, tuple)):
        return '{}' if isinstance(value, dict) else '[]'
    # Non-ASCII as \\u escapes (jsoncpp without emitUTF8), which also keeps a lone surrogate.
    return json.dumps(value)


def keepalive_answer(pretty: bool = False) -> str:
    """Return the robot's answer to a keepalive (``pretty``: as its writer has it)."""
    return styled_json({'keepalive': True}) if pretty else '{"keepalive":true}'


def micdata_payload(robot_time: float, direction: int, confidence: int, *,
                    field: str = 'both', selected_direction: int | None = None,
                    max_confidence: float | None = None, trigger_detected: bool = False,
                    delay_time_ms: int = 0, active_state: int = 0,
                    latest_power: float = 0.0, latest_noise_floor: float = 0.0,
                    directions: list[float] | None = None,
                    beat_confidence: float = -1.0, tempo_bpm: float = -1.0) -> dict[str, Any]:
    """
    Build a complete micdata payload with every field of PROTOCOLS.md section 1.

    ``field`` picks the name(s) of the winning direction: ``dominant``, ``direction`` or
    ``both``. The beat detector's -1 / -1 is what the robot sends while it is off.
    Raises :class:`LocalProtocolError` for an unknown ``field``.
    """
    if field not in DIRECTION_FIELDS:
        raise LocalProtocolError(f'field must be one of {DIRECTION_FIELDS}, got {field!r}')
    payload: dict[str, Any] = {'time': robot_time, 'confidence': confidence}
    if field in ('dominant', 'both'):
        payload['dominant'] = direction
    if field in ('direction', 'both'):
        payload['direction'] = direction
    payload.update({
        'selectedDirection': direction if selected_direction is None else selected_direction,
        'maxConfidence': float(confidence if max_confidence is None else max_confidence),
        'triggerDetected': trigger_detected,
        'delayTime': delay_time_ms,
        'activeState': active_state,
        'latestPowerValue': latest_power,
        'latestNoiseFloor': latest_noise_floor,
        'directions': [0.0] * CONFIDENCE_COUNT if directions is None else directions,
        'beatDetector': {'confidence': beat_confidence, 'tempo_bpm': tempo_bpm},
    })
    return payload


# -- helpers -----------------------------------------------------------------------------

def _decode_object(frame: str | bytes) -> dict[str, Any]:
    # Push data is written again as escaped JSON text: any string survives that.
    try:
        return json_text.loads_object(frame, RemoteProtocolError, ros_strings=False)
    except RemoteProtocolError as exc:
        raise RemoteProtocolError(f'frame is {exc}') from None


def _integer(data: dict[str, Any], name: str, low: int, high: int) -> int:
    value = data[name]
    if type(value) is not int or not low <= value <= high:
        raise RemoteProtocolError(
            f'micdata "{name}" is not an integer in [{low}, {high}]: {_short(value)}')
    return value


def _number(data: dict[str, Any], name: str, limit: float) -> float:
    # The range test also rejects NaN and infinities (every comparison with NaN is false)
    # and ints too large for a float, before anything converts them.
    value = data.get(name)
    kind = type(value)
    if (kind is not float and kind is not int) or not -limit <= value <= limit:
        raise RemoteProtocolError(f'micdata "{name}" is not a finite number: {_short(value)}')
    return value


def _optional_number(data: dict[str, Any], name: str, limit: float, prefix: str = '') -> float:
    if name not in data:
        return nan
    try:
        return float(_number(data, name, limit))
    except RemoteProtocolError:
        raise RemoteProtocolError(f'micdata "{prefix}{name}" is not a finite number: '
                                  f'{_short(data[name])}') from None


def _confidences(values: Any) -> bool:
    if type(values) is not list or len(values) != CONFIDENCE_COUNT:
        return False
    for value in values:
        kind = type(value)
        if (kind is not float and kind is not int) or not -_FLOAT32_MAX <= value <= _FLOAT32_MAX:
            return False
    return True


def _module(module: str) -> str:
    if not isinstance(module, str) or not module:
        raise LocalProtocolError(f'module name must be a non-empty string, got {_short(module)}')
    return module


def _keys(value: dict[str, Any]) -> str:
    keys = list(value)
    shown = ', '.join(_short(k) for k in keys[:5])
    return f'keys {shown}' + (' ...' if len(keys) > 5 else '') if keys else 'no keys'
