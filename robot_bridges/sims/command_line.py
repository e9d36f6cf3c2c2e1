"""
The simulators' command lines: their own options, and the ROS arguments a launcher adds.

launch_ros appends ``--ros-args -r __node:=<name>`` (and ``-r __ns:=``, ``--params-file``,
``-p``, remaps) to every program its ``Node`` action starts, and ``ros2 run ... --ros-args
...`` does the same by hand. A simulator is no ROS node: it has nothing to name, place or
parameterize, but it must take such a command line as a node does. The ROS arguments are
checked by rclpy's own parser (a malformed rule or a missing params file is an error, exit
code 2, as for a node) and removed before argparse reads the rest.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

ROS_ARGS = '--ros-args'


def parse_args(parser: argparse.ArgumentParser,
               argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` (default: ``sys.argv[1:]``) with ``parser``, ROS arguments removed."""
    return parser.parse_args(without_ros_args(parser, argv))


def without_ros_args(parser: argparse.ArgumentParser,
                     argv: Sequence[str] | None = None) -> list[str]:
    """Return ``argv`` without its ROS arguments; ``parser.error`` if they are malformed."""
    args = list(sys.argv[1:] if argv is None else argv)
    if ROS_ARGS not in args:
        return args  # a plain start does not import rclpy
    from rclpy.utilities import remove_ros_args
    try:
        return list(remove_ros_args([parser.prog, *args])[1:])
    except RuntimeError as exc:  # rclpy's RCLInvalidROSArgsError, UnknownROSArgsError
        parser.error(f'invalid ROS arguments: {exc}')
    raise AssertionError('unreachable: parser.error exits')
