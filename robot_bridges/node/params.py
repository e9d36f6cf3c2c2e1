"""
Declare parameters with descriptors (type, description, range) in one line each.

Values given on the command line or in a params file are checked here, before rclpy sees
them, so that every bad value gets one clear line (:class:`ParameterError`: the name, the
value, what is allowed) instead of a traceback. An integer given for a double parameter
(``-p timeout_s:=5``) and a number given for a string parameter (``-p robot_id:=1234``) are
taken as the declared type.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)
from rclpy.node import Node
from rclpy.parameter import Parameter
from robot_bridges.protocols.text import excerpt

_TYPES = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
    list: ParameterType.PARAMETER_STRING_ARRAY,
}
_KINDS = {bool: 'true or false', int: 'an integer', float: 'a number', str: 'a string',
          list: 'a list of strings'}


class ParameterError(ValueError):
    """A parameter value the node cannot use; the message names parameter, value and rule."""


def declare(node: Node, name: str, default: Any, description: str, *,
            min_value: float | None = None, max_value: float | None = None,
            read_only: bool = False) -> None:
    """
    Declare ``name`` with ``default`` and a descriptor carrying its type and range.

    Raises :class:`ParameterError` when the value given for it (command line, params file)
    has the wrong type or is out of range.
    """
    kind = type(default)
    descriptor = ParameterDescriptor(name=name, description=description, read_only=read_only,
                                     type=_TYPES[kind])
    if min_value is not None or max_value is not None:
        low = min_value if min_value is not None else -2**31
        high = max_value if max_value is not None else 2**31 - 1
        if kind is int:
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high))]
        else:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(low), to_value=float(high))]
    # rclpy keeps the command line's and params files' values here until declaration.
    overrides = node._parameter_overrides  # noqa: SLF001 - no public accessor exists
    given = overrides.get(name)
    value = None
    if given is not None:
        value = check(name, given.value, default, min_value, max_value)
        overrides[name] = Parameter(name, Parameter.Type(_TYPES[kind]), value)
        if value == []:
            # rclpy infers an override's type from its value, and [] reads as a byte
            # array: declare with the default, then set the typed empty list.
            del overrides[name]
    node.declare_parameter(name, default, descriptor)
    if value == []:
        node.set_parameters([Parameter(name, Parameter.Type.STRING_ARRAY, [])])


def check(name: str, value: Any, default: Any, min_value: float | None = None,
          max_value: float | None = None) -> Any:
    """Return ``value`` as the type of ``default``; raise ParameterError if it cannot be."""
    kind = type(default)
    converted = _convert(kind, value)
    if converted is None:
        raise ParameterError(f'parameter {name!r}: expected {_KINDS[kind]}'
                             f'{_range_text(min_value, max_value)}, got {excerpt(value)}')
    if kind in (int, float) and (
            (min_value is not None and converted < min_value) or
            (max_value is not None and converted > max_value) or
            (kind is float and not math.isfinite(converted))):
        raise ParameterError(f'parameter {name!r}: {excerpt(value)} is out of range'
                             f'{_range_text(min_value, max_value)}')
    return converted


def get(node: Node, name: str) -> Any:
    """Return the parameter's current value."""
    return node.get_parameter(name).value


def get_strings(node: Node, name: str) -> Sequence[str]:
    """Return a string-array parameter's current value as a tuple."""
    return tuple(node.get_parameter(name).value or ())


def _convert(kind: type, value: Any) -> Any:
    if kind is bool:
        return value if type(value) is bool else None
    if kind is int:
        return value if type(value) is int else None
    if kind is float:
        return float(value) if type(value) in (int, float) else None
    if kind is str:
        if type(value) in (int, float):
            return str(value)  # YAML reads -p robot_id:=1234 as a number
        return value if type(value) is str else None
    if value is None or (hasattr(value, '__len__') and len(value) == 0):
        return []  # YAML `[]` has no element type: an empty list of strings
    if isinstance(value, (list, tuple)) and all(type(item) is str for item in value):
        return list(value)
    return None


def _range_text(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return ''
    if high is None:
        return f' (at least {low})'
    if low is None:
        return f' (at most {high})'
    return f' in [{low}, {high}]'
