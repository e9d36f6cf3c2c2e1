"""
Executable robot_bridges_container: any set of the bridges in one process.

    robot_bridges_container --bridge victor_mic_bridge --bridge webviz_bridge:/victor \
        --bridge robot_chat_bridge:/chat2:chat_b --ros-args --params-file config/victor.yaml

Each ``--bridge KIND[:NAMESPACE[:NAME]]`` is one node of its own (a lifecycle node with its
own services, parameters and diagnostics), in NAMESPACE (default: the bridge's own, e.g.
``victor``) and named NAME (default: KIND), as a component container loads them: the node
gets ``-r __ns:=`` and ``-r __node:=`` as its own arguments, so the process-wide
``--ros-args`` (``--params-file``, ``-p``, remaps) apply to every node, a params file's
entries by fully-qualified node name (``/**/victor_mic_bridge``, ``/victor/webviz_bridge``).
All of them share one SingleThreadedExecutor and one asyncio loop thread. One bridge's
failure stays its own (robot_bridges.node.containment); see
:func:`robot_bridges.node.runner.run_bridges` for which exit code says what.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import functools
import sys
from typing import NoReturn, Sequence

import rclpy.logging
from rclpy.utilities import remove_ros_args
from rclpy.validate_namespace import validate_namespace
from rclpy.validate_node_name import validate_node_name
from robot_bridges.bridges.registry import bridge_class, BRIDGES
from robot_bridges.node.containment import LOGGER_NAME
from robot_bridges.node.runner import EXIT_BAD_PARAMETER, NodeFactory, run_bridges

SPEC = 'KIND[:NAMESPACE[:NAME]]'


@dataclass(frozen=True)
class BridgeSpec:
    """One node of the container: which bridge, in which namespace, under which name."""

    kind: str
    namespace: str  # absolute
    name: str

    @classmethod
    def parse(cls, text: str) -> BridgeSpec:
        """Read ``KIND[:NAMESPACE[:NAME]]``; ValueError saying what is wrong."""
        parts = text.split(':')
        if len(parts) > 3:
            raise ValueError(f'{text!r} is not {SPEC}')
        kind, namespace, name = (parts + ['', ''])[:3]
        namespace = namespace or bridge_class(kind).DEFAULT_NAMESPACE
        name = name or kind
        namespace = namespace if namespace.startswith('/') else f'/{namespace}'
        for check, value in ((validate_namespace, namespace), (validate_node_name, name)):
            try:
                check(value)
            except Exception as exc:  # noqa: B902 - rclpy's Invalid*Exception, no common base
                raise ValueError(f'{text!r}: {str(exc).splitlines()[0]}') from None
        return cls(kind, namespace, name)

    @property
    def fully_qualified_name(self) -> str:
        """Return ``/namespace/name``."""
        return f'{self.namespace.rstrip("/")}/{self.name}'

    @property
    def logger_name(self) -> str:
        """Return the name the node's logger has (``victor.webviz_bridge``)."""
        return self.fully_qualified_name[1:].replace('/', '.')

    def factory(self) -> NodeFactory:
        """Return what makes the node on the container's loop."""
        cli_args = ['--ros-args', '-r', f'__ns:={self.namespace}', '-r', f'__node:={self.name}']
        return functools.partial(bridge_class(self.kind), cli_args=cli_args)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like a bad parameter's, and the same exit code.
        rclpy.logging.get_logger(LOGGER_NAME).error(f'{message} (usage: {self.prog} '
                                                    f'--bridge {SPEC} ... [--ros-args ...])')
        sys.exit(EXIT_BAD_PARAMETER)


def parse_specs(argv: Sequence[str]) -> list[BridgeSpec]:
    """Return the bridges the command line (without ``--ros-args``) asks for; exit 2 if bad."""
    parser = _Parser(prog='robot_bridges_container', description=__doc__.strip().splitlines()[0])
    parser.add_argument('--bridge', action='append', required=True, metavar=SPEC,
                        help=f'a bridge to run; KIND is one of {", ".join(BRIDGES)}')
    options = parser.parse_args(argv)
    specs: list[BridgeSpec] = []
    for text in options.bridge:
        try:
            spec = BridgeSpec.parse(text)
        except ValueError as exc:
            parser.error(f'argument --bridge: {exc}')
        if any(s.fully_qualified_name == spec.fully_qualified_name for s in specs):
            parser.error(f'argument --bridge: {spec.fully_qualified_name} is given twice')
        specs.append(spec)
    return specs


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges robot_bridges_container``."""
    argv = list(sys.argv if args is None else args)
    specs = parse_specs(remove_ros_args(argv)[1:])
    return run_bridges([(spec.logger_name, spec.factory()) for spec in specs], argv,
                       contained=True)
