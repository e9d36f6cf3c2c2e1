"""Robot Chat test helpers: start the relay, read a bridge's diagnostics, raw peers."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray
from ros_helpers import Collector, ProbeNode, Proc, wait_for
from websockets.asyncio.client import ClientConnection


def start_server(procs: Callable[..., Proc], port: int = 0, *args: str) -> tuple[Proc, str]:
    """Start robot_chat_server; return it and its URL."""
    server = procs('robot_chat_server', '--port', str(port), *args)
    return server, server.wait_output(r'listening on (ws://\S+)').group(1)


class Diagnostics:
    """The latest diagnostic values of each node, from /diagnostics."""

    def __init__(self, ros: ProbeNode) -> None:
        self._collector: Collector[DiagnosticArray] = ros.subscribe(
            DiagnosticArray, '/diagnostics')

    def values(self, node_fqn: str) -> dict[str, str]:
        """Return the newest key/values published for ``node_fqn`` ({} if none yet)."""
        for array in reversed(list(self._collector.messages)):
            for status in array.status:
                if status.name == node_fqn:
                    return {kv.key: kv.value for kv in status.values} | {
                        '_hardware_id': status.hardware_id, '_message': status.message}
        return {}

    def wait(self, node_fqn: str, predicate: Callable[[dict[str, str]], bool],
             timeout: float = 10.0) -> dict[str, str]:
        """Wait until the node's newest diagnostics satisfy ``predicate``."""
        def matching() -> dict[str, str] | None:
            values = self.values(node_fqn)
            return values if values and predicate(values) else None
        return wait_for(matching, timeout, f'diagnostics of {node_fqn}')


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> Any:
    """Receive the next frame, decoded."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def wait_users(ws: ClientConnection, count: int, timeout: float = 10.0) -> None:
    """Read frames until the relay says ``count`` users are connected."""
    async def until() -> None:
        while (await recv_json(ws, timeout)) != {'type': 'users', 'count': count}:
            pass
    await asyncio.wait_for(until(), timeout)
