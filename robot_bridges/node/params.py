"""
Declare parameters with descriptors (type, description, range) in one line each.

Values given on the command line or in a params file are checked here, before rclpy sees
them, so that every bad value gets one clear line (:class:`ParameterError`: the name, the
value, what is allowed) instead of a traceback. An integer given for a double parameter
(``-p timeout_s:=5``) and a number given for a string parameter (``-p robot_id:=1234``) are
taken as the declared type.

Every parameter is either read-only, because the node reads it when it configures (the
default: its description ends with "Read-only: takes effect at configure."), or applied at
run time: declared with an ``apply`` hook, it can be changed by ``ros2 param set`` at any
lifecycle state; the new value is checked as above, and the hook applies it or refuses it
with a reason. A value that is accepted always takes effect.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Callable, Sequence

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType, SetParametersResult)
from rclpy.node import Node
from rclpy.parameter import Parameter
from robot_bridges.protocols.text import cut, excerpt

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


#: When a read-only parameter takes effect, unless its declaration says otherwise.
AT_CONFIGURE = 'at configure'
#: The end of a run-time parameter's description.
AT_RUN_TIME = 'Applied at run time (ros2 param set).'


def declare(node: Node, name: str, default: Any, description: str, *,
            min_value: float | None = None, max_value: float | None = None,
            apply: Callable[[Any], None] | None = None,
            takes_effect: str = AT_CONFIGURE) -> None:
    """
    Declare ``name`` with ``default`` and a descriptor carrying its type and range.

    Without ``apply`` the parameter is read-only and its description ends with
    "Read-only: takes effect <takes_effect>.". With ``apply``, a value set at run time
    (any lifecycle state) is checked like a given one, then ``apply(value)`` is called
    on the executor thread before the value is stored; it raises ``ValueError`` (having
    changed nothing) to refuse, and the caller of ``set_parameters`` gets that reason. It is
    not called for the value given at start, which the node reads as usual.

    Raises :class:`ParameterError` when the value given for it (command line, params file)
    has the wrong type or is out of range.
    """
    kind = type(default)
    note = AT_RUN_TIME if apply is not None else f'Read-only: takes effect {takes_effect}.'
    descriptor = ParameterDescriptor(name=name, description=f'{description} {note}',
                                     read_only=apply is None, type=_TYPES[kind])
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
        # rclpy infers an override's type from its value, and [] reads as a byte array:
        # declare with the default, set the typed empty list, then apply the descriptor.
        del overrides[name]
        writable = ParameterDescriptor(name=name, description=descriptor.description,
                                       type=descriptor.type)
        node.declare_parameter(name, default, writable)
        node.set_parameters([Parameter(name, Parameter.Type.STRING_ARRAY, [])])
        node.set_descriptor(name, descriptor)
    else:
        node.declare_parameter(name, default, descriptor)
    if apply is not None:
        _runtime_table(node)[name] = _Runtime(default, min_value, max_value, apply)


def runtime_parameters(node: Node) -> Sequence[str]:
    """Return the names of the node's parameters that are applied at run time."""
    return tuple(getattr(node, '_robot_bridges_runtime', ()))


@dataclass(frozen=True)
class _Runtime:
    default: Any
    min_value: float | None
    max_value: float | None
    apply: Callable[[Any], None]


def _runtime_table(node: Node) -> dict[str, _Runtime]:
    """Return the node's run-time parameters, hooking its parameter changes the first time."""
    table: dict[str, _Runtime] | None = getattr(node, '_robot_bridges_runtime', None)
    if table is None:
        table = {}
        node._robot_bridges_runtime = table  # type: ignore[attr-defined]
        node.add_pre_set_parameters_callback(lambda given: _as_declared(table, given))
        node.add_on_set_parameters_callback(lambda given: _apply(table, given))
    return table


def _as_declared(table: dict[str, _Runtime], given: list[Parameter]) -> list[Parameter]:
    """Take an integer for a double, a number for a string (``ros2 param set x 4``)."""
    taken = []
    for parameter in given:
        runtime = table.get(parameter.name)
        if runtime is not None:
            try:
                value = check(parameter.name, parameter.value, runtime.default)
            except ParameterError:
                pass  # refused with its reason by the descriptor or _apply
            else:
                parameter = Parameter(parameter.name,
                                      Parameter.Type(_TYPES[type(runtime.default)]), value)
        taken.append(parameter)
    return taken


def _apply(table: dict[str, _Runtime], given: list[Parameter]) -> SetParametersResult:
    """Check every run-time parameter of a request, then apply each (executor thread)."""
    changes = []
    for parameter in given:
        runtime = table.get(parameter.name)
        if runtime is None:
            continue  # being declared (read-only ones never get here: rclpy refuses them)
        try:
            value = check(parameter.name, parameter.value, runtime.default,
                          runtime.min_value, runtime.max_value)
        except ParameterError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        changes.append((runtime, parameter.name, value))
    for runtime, name, value in changes:
        try:
            runtime.apply(value)
        except ValueError as exc:
            return SetParametersResult(successful=False,
                                       reason=cut(f'parameter {name!r}: {exc}'))
    return SetParametersResult(successful=True)


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
