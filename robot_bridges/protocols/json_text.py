"""
JSON in and out for every protocol module: only the module's own error, and strict output.

* :func:`loads` turns any text or bytes into a JSON value or raises the caller's error type:
  invalid UTF-8, invalid JSON, nesting too deep, integers with more digits than Python
  parses, and strings that a ROS message cannot carry (lone surrogates, NUL) are all errors.
* :func:`dumps` writes strict JSON (RFC 8259): non-finite numbers become ``null`` and are
  counted, so downstream parsers never see ``NaN`` or ``Infinity``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from robot_bridges.protocols.text import cut

# Escapes that decode to what ROS strings cannot carry: a lone surrogate or NUL. Only a
# document that contains one of these is walked; every other document is checked for free.
_SUSPECT_ESCAPE = re.compile(r'\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)')
_COMPACT = (',', ':')
# What may decode to a non-finite float: the constants, or an exponent of three digits.
_MAYBE_NON_FINITE = re.compile(r'NaN|Infinity|[eE][+]?0*[1-9][0-9]{2}')
_FLOAT_MAX = sys.float_info.max


def loads(frame: str | bytes, error: type[ValueError], *, ros_strings: bool = True) -> Any:
    """
    Decode one JSON document; raise ``error`` (with a bounded reason) for anything else.

    With ``ros_strings`` (the default), a document holding a string that a ROS message
    cannot carry is an error too; pass False when the caller republishes the text itself
    (escaped) and checks the few strings it copies into messages with :func:`ros_string`.
    """
    if isinstance(frame, (bytes, bytearray, memoryview)):
        try:
            frame = bytes(frame).decode('utf-8')
        except UnicodeDecodeError as exc:
            raise error(f'not UTF-8 ({exc.reason} at byte {exc.start})') from None
    try:
        value = json.loads(frame)
    except RecursionError:
        raise error('JSON nested too deeply') from None
    except ValueError as exc:  # JSONDecodeError, and the int digits limit
        raise error(cut(f'not JSON ({exc})', 120)) from None
    if ros_strings and '\\u' in frame and _SUSPECT_ESCAPE.search(frame):
        problem = _unrepresentable(value, 0)
        if problem:
            raise error(f'JSON holds {problem}, which ROS strings cannot carry')
    return value


def loads_object(frame: str | bytes, error: type[ValueError], *,
                 ros_strings: bool = True) -> dict[str, Any]:
    """Like :func:`loads`, but the document must be a JSON object."""
    value = loads(frame, error, ros_strings=ros_strings)
    if type(value) is not dict:
        raise error(f'JSON {json_type(value)}, not an object')
    return value


def dumps(value: Any, error: type[ValueError], *, compact: bool = True) -> tuple[str, int]:
    """
    Return strict JSON for ``value`` and how many non-finite numbers became null.

    ``compact`` writes no blanks; otherwise the separators are ``json.dumps``' defaults.
    Raises ``error`` for a value that cannot be written (too deep, not JSON data).
    """
    separators = _COMPACT if compact else None
    try:
        return json.dumps(value, separators=separators, allow_nan=False), 0
    except ValueError:
        pass  # a NaN or an infinity somewhere: replace them below
    except RecursionError:
        raise error('JSON nested too deeply') from None
    except TypeError as exc:
        raise error(cut(f'not JSON data ({exc})', 120)) from None
    counter = [0]
    try:
        cleaned = _finite(value, counter)
        return json.dumps(cleaned, separators=separators, allow_nan=False), counter[0]
    except RecursionError:
        raise error('JSON nested too deeply') from None
    except ValueError as exc:  # an integer with more digits than Python writes
        raise error(cut(f'not JSON data ({exc})', 120)) from None


def number(value: Any) -> float | None:
    """
    Return a decoded JSON number as a float, or None: ints too, bools not.

    None too for an integer beyond the float range, which ``float()`` cannot convert
    (raising OverflowError) and ``math.isfinite`` cannot test. Floats come back as they
    are, NaN and infinities included: callers decide about those.
    """
    kind = type(value)
    if kind is float:
        return value
    if kind is int and -_FLOAT_MAX <= value <= _FLOAT_MAX:
        return float(value)
    return None


def ros_string(value: Any) -> bool:
    """Whether ``value`` is a str that a ROS string field can carry (no NUL, no surrogate)."""
    return type(value) is str and not _unrepresentable(value, 0)


def strict_text(text: str, value: Any, error: type[ValueError]) -> tuple[str, int]:
    """
    Return ``text`` (the JSON that decoded to ``value``) if it is strict JSON, else strict JSON.

    Text is republished as it came unless it may hold a non-finite number (``NaN``,
    ``Infinity``, an exponent too large for a double): then ``value`` is written again
    with those numbers as null, and the count of them is returned.
    """
    if not _MAYBE_NON_FINITE.search(text):
        return text, 0
    strict, count = dumps(value, error)
    return (strict, count) if count else (text, 0)


def json_type(value: Any) -> str:
    """Name a decoded value's JSON type, for error messages."""
    names = {dict: 'object', list: 'array', str: 'string', bool: 'boolean', int: 'number',
             float: 'number', type(None): 'null'}
    return names.get(type(value), type(value).__name__)


def _unrepresentable(value: Any, depth: int) -> str:
    kind = type(value)
    if kind is str:
        if '\x00' in value:
            return 'a NUL character'
        try:
            value.encode('utf-8')
        except UnicodeEncodeError:
            return 'a lone surrogate'
        return ''
    if kind is dict:
        for key, item in value.items():
            problem = _unrepresentable(key, depth + 1) or _unrepresentable(item, depth + 1)
            if problem:
                return problem
    elif kind is list:
        for item in value:
            problem = _unrepresentable(item, depth + 1)
            if problem:
                return problem
    return ''


def _finite(value: Any, counter: list[int]) -> Any:
    kind = type(value)
    if kind is float:
        if math.isfinite(value):
            return value
        counter[0] += 1
        return None
    if kind is dict:
        return {key: _finite(item, counter) for key, item in value.items()}
    if kind is list:
        return [_finite(item, counter) for item in value]
    return value
