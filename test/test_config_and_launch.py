"""config/*.yaml hold exactly the nodes' declared parameters and defaults; launch files load."""

from __future__ import annotations

import importlib
from pathlib import Path
import re
from typing import Any, Iterator

import pytest
import rclpy
from robot_bridges.runtime.loop_thread import LoopThread
import yaml

ROOT = Path(__file__).resolve().parents[1]
RCLPY_OWN_PARAMETERS = {'use_sim_time', 'start_type_description_service'}
# node name in the YAML -> the class implementing it
NODE_CLASSES = {
    'robot_chat_bridge': 'robot_bridges.bridges.robot_chat_bridge:RobotChatBridge',
    'victor_mic_bridge': 'robot_bridges.bridges.victor_mic_bridge:VictorMicBridge',
    'webviz_bridge': 'robot_bridges.bridges.webviz_bridge:WebVizBridge',
    'reachy_bridge': 'robot_bridges.bridges.reachy_bridge:ReachyBridge',
    'dfx_bridge': 'robot_bridges.bridges.dfx_bridge:DfxBridge',
    'letsrobot_bridge': 'robot_bridges.bridges.letsrobot_bridge:LetsRobotBridge',
}


def config_entries() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield (file name, node name, parameters) for every node section of config/."""
    for path in sorted((ROOT / 'config').glob('*.yaml')):
        for key, section in yaml.safe_load(path.read_text()).items():
            yield path.name, key.rsplit('/', 1)[-1], flatten(section['ros__parameters'])


def flatten(values: dict[str, Any], prefix: str = '') -> dict[str, Any]:
    """Nested mappings of a params file as the dotted parameter names ROS reads them as."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat |= flatten(value, f'{prefix}{key}.')
        else:
            flat[f'{prefix}{key}'] = value
    return flat


@pytest.fixture(scope='module')
def context() -> Iterator[rclpy.Context]:
    """Provide an rclpy context for constructing nodes in this process."""
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


@pytest.mark.parametrize('file, node_name, values',
                         list(config_entries()), ids=lambda v: v if isinstance(v, str) else '')
def test_config_holds_the_declared_defaults(file: str, node_name: str, values: dict[str, Any],
                                            context: rclpy.Context) -> None:
    module, cls = NODE_CLASSES[node_name].split(':')
    node_class = getattr(importlib.import_module(module), cls)
    loop = LoopThread()
    node = node_class(loop, context=context)
    try:
        declared = {name: node.get_parameter(name).value for name in node._parameters
                    if name not in RCLPY_OWN_PARAMETERS}
        assert set(values) == set(declared), f'{file} vs declared parameters of {node_name}'
        for name, value in values.items():
            default = declared[name]
            assert (list(default) if isinstance(default, (list, tuple)) else default) == value, \
                f'{file}: {node_name}.{name} = {value!r}, declared default {default!r}'
    finally:
        node.destroy_node()
        loop.stop()


@pytest.mark.parametrize('path', sorted((ROOT / 'launch').glob('*.launch.py')),
                         ids=lambda p: p.name)
def test_launch_file_compiles_and_names_installed_executables(path: Path) -> None:
    source = path.read_text()
    compile(source, str(path), 'exec')
    entry_points = (ROOT / 'setup.py').read_text()
    for executable in re.findall(r"executable='([a-z_]+)'", source):
        assert f"'{executable} = " in entry_points, f'{path.name}: no executable {executable}'
