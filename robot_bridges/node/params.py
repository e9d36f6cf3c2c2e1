"""Declare parameters with descriptors (type, description, range) in one line each."""

from __future__ import annotations

from typing import Any, Sequence

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)
from rclpy.node import Node

_TYPES = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
}


def declare(node: Node, name: str, default: Any, description: str, *,
            min_value: float | None = None, max_value: float | None = None,
            read_only: bool = False) -> None:
    """Declare ``name`` with ``default`` and a descriptor carrying its type and range."""
    descriptor = ParameterDescriptor(name=name, description=description, read_only=read_only)
    if isinstance(default, list):
        descriptor.type = ParameterType.PARAMETER_STRING_ARRAY
    else:
        descriptor.type = _TYPES[type(default)]
    if min_value is not None or max_value is not None:
        low = min_value if min_value is not None else -2**31
        high = max_value if max_value is not None else 2**31 - 1
        if isinstance(default, int) and not isinstance(default, bool):
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high))]
        else:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(low), to_value=float(high))]
    node.declare_parameter(name, default, descriptor)


def get(node: Node, name: str) -> Any:
    """Return the parameter's current value."""
    return node.get_parameter(name).value


def get_strings(node: Node, name: str) -> Sequence[str]:
    """Return a string-array parameter's current value as a tuple."""
    return tuple(node.get_parameter(name).value or ())
