"""
The fault matrix's container form: the bridge under test as a node of robot_bridges_container.

Next to it in the same process runs a bystander bridge (another kind, its own namespace,
dialling a port nobody listens on), so a cell also shows that the fault stayed with its node.
The bridge's parameters go into a params file under its node's name: a ``-p`` of the process
would reach the bystander too.
"""

from __future__ import annotations

from pathlib import Path
import tempfile
from typing import Any, Callable

from ros_helpers import free_port, Proc

#: The bystander next to each bridge under test, with parameters that make it harmless.
BYSTANDERS: dict[str, tuple[str, dict[str, Any]]] = {
    'robot_chat_bridge': ('victor_mic_bridge', {'port': 0}),
}
DEFAULT_BYSTANDER = ('robot_chat_bridge', {'url': 'ws://127.0.0.1:{port}'})


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(_yaml(v) for v in value) + ']'
    return repr(value) if isinstance(value, str) else str(value)


def contained(procs: Callable[..., Proc], kind: str) -> Callable[..., Proc]:
    """Return ``procs`` that starts bridge ``kind`` in a container with a bystander."""
    def start(name: str, *args: str, namespace: str | None = None,
              params: dict[str, Any] | None = None) -> Proc:
        if name != kind:
            return procs(name, *args, namespace=namespace, params=params)
        bystander, defaults = BYSTANDERS.get(kind, DEFAULT_BYSTANDER)
        values = {key: (free_port() if value == 0 else
                        value.format(port=free_port()) if isinstance(value, str) else value)
                  for key, value in defaults.items()}
        nodes = {f'{namespace}/{kind}': params or {},
                 f'{namespace}_bystander/{bystander}': values}
        lines = []
        for node, node_params in nodes.items():
            lines += [f'{node}:', '  ros__parameters:']
            lines += [f'    {key}: {_yaml(value)}' for key, value in node_params.items()]
        path = Path(tempfile.mkdtemp(prefix='fault_container_')) / 'params.yaml'
        path.write_text('\n'.join(lines) + '\n')
        return procs('robot_bridges_container', '--bridge', f'{kind}:{namespace}',
                     '--bridge', f'{bystander}:{namespace}_bystander', *args,
                     '--ros-args', '--params-file', str(path))
    return start
