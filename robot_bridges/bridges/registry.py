"""
Every bridge by kind (its executable's name, and its node's default name), imported on use.

Imported on use: a process pays only for the bridges it runs (LetsRobot's socket.io and
aiohttp, DFX's protobuf, Reachy's URDF tables are only loaded for them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from robot_bridges.node.bridge_node import BridgeNode

# kind -> the module under robot_bridges.bridges and the node class in it.
BRIDGES = {
    'robot_chat_bridge': 'RobotChatBridge',
    'victor_mic_bridge': 'VictorMicBridge',
    'webviz_bridge': 'WebVizBridge',
    'letsrobot_bridge': 'LetsRobotBridge',
    'dfx_bridge': 'DfxBridge',
    'reachy_bridge': 'ReachyBridge',
}


def bridge_class(kind: str) -> type[BridgeNode]:
    """Return the node class of bridge ``kind``; ValueError naming the kinds if unknown."""
    if kind not in BRIDGES:
        raise ValueError(f'unknown bridge {kind!r}; one of {", ".join(BRIDGES)}')
    module = importlib.import_module(f'robot_bridges.bridges.{kind}')
    cls: type[BridgeNode] = getattr(module, BRIDGES[kind])
    return cls
