"""
The bridges a launch file starts: one process each, or all as nodes of one container.

Each bridge's launch file calls :func:`bridge_actions` for its bridges. Alone, that is one
launch_ros Node per bridge, as before. Under robot_bridges.launch.py with
``single_process:=true``, which calls :func:`collect_bridges` before including them, the
bridges are only collected, with their namespace and parameters; :func:`container_actions`
then starts one ``robot_bridges_container`` for all of them. Its params files are the same
files, and the values a launch file adds (a simulator's URL, ``host:=``) are written to one
more file keyed by each node's fully-qualified name: they must reach that node only.

For launch files only (imports ``launch`` and ``launch_ros`` when called).
"""

from __future__ import annotations

import atexit
import contextlib
from dataclasses import dataclass
import os
import tempfile
from typing import Any, List, Sequence

#: The context's global holding the collected bridges (absent: one process per bridge).
COLLECTED = 'robot_bridges_container_bridges'


@dataclass(frozen=True)
class Collected:
    """One bridge of the container: its kind, namespace and parameters (files, dicts)."""

    kind: str
    namespace: str
    files: tuple[str, ...]
    values: dict[str, Any]

    @property
    def fully_qualified_name(self) -> str:
        """Return ``/namespace/kind`` (the node's default name is its kind)."""
        return f'/{self.namespace.strip("/")}/{self.kind}'.replace('//', '/')


def collect_bridges(context: Any) -> List[Any]:
    """Make bridge_actions collect the bridges from now on (an OpaqueFunction's function)."""
    context.extend_globals({COLLECTED: []})
    return []


def bridge_actions(context: Any, kinds: Sequence[str], namespace: Any,
                   parameters: Sequence[Any]) -> List[Any]:
    """Return a Node per bridge of ``kinds``, or none when they are collected for a container."""
    from launch.utilities import normalize_to_list_of_substitutions, perform_substitutions
    from launch_ros.actions import Node
    collected = context.get_locals_as_dict().get(COLLECTED)
    if collected is None:
        return [Node(package='robot_bridges', executable=kind, namespace=namespace,
                     parameters=list(parameters), output='screen', emulate_tty=True)
                for kind in kinds]

    def performed(value: Any) -> str:
        return perform_substitutions(context, normalize_to_list_of_substitutions(value))
    files = tuple(performed(p) for p in parameters if not isinstance(p, dict))
    values: dict[str, Any] = {}
    for p in parameters:
        if isinstance(p, dict):
            values.update(p)
    for kind in kinds:
        collected.append(Collected(kind, performed(namespace), files, values))
    return []


def container_actions(context: Any) -> List[Any]:
    """Return one container Node for the collected bridges (an OpaqueFunction, after them)."""
    from launch_ros.actions import Node
    import yaml
    collected: list[Collected] = context.get_locals_as_dict().get(COLLECTED, [])
    if not collected:
        return []
    files: list[str] = []
    for bridge in collected:
        files += [f for f in bridge.files if f not in files]
    values = {b.fully_qualified_name: {'ros__parameters': b.values} for b in collected
              if b.values}
    if values:
        # After the params files: these values win, as a Node's dicts after its files do.
        with tempfile.NamedTemporaryFile('w', prefix='robot_bridges_container_',
                                         suffix='.yaml', delete=False) as out:
            yaml.safe_dump(values, out)
        # It may hold a secret a launch file passed (a token, a stream key): readable by
        # this user alone (mkstemp's 0600), and removed when launch exits.
        atexit.register(_remove, out.name)
        files.append(out.name)
    arguments = []
    for bridge in collected:
        arguments += ['--bridge', f'{bridge.kind}:/{bridge.namespace.strip("/")}']
    return [Node(package='robot_bridges', executable='robot_bridges_container',
                 arguments=arguments, parameters=files, output='screen', emulate_tty=True)]


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
