"""config/*.yaml hold exactly the nodes' declared parameters and defaults; launch files load."""

from __future__ import annotations

import ast
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
        # rcl's params-file reader cannot type an empty list (the node dies at start): such
        # a default is left out of the file, and no file may hold one.
        empty = {name for name, value in declared.items()
                 if isinstance(value, (list, tuple)) and not value}
        assert not [name for name, value in values.items() if value == []], \
            f'{file}: an empty list, which rcl cannot read'
        assert set(values) == set(declared) - empty, \
            f'{file} vs declared parameters of {node_name}'
        for name, value in values.items():
            default = declared[name]
            assert (list(default) if isinstance(default, (list, tuple)) else default) == value, \
                f'{file}: {node_name}.{name} = {value!r}, declared default {default!r}'
    finally:
        node.destroy_node()
        loop.stop()


LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))
BRING_UP = ROOT / 'launch' / 'robot_bridges.launch.py'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_compiles_and_names_installed_executables(path: Path) -> None:
    source = path.read_text()
    compile(source, str(path), 'exec')
    entry_points = (ROOT / 'setup.py').read_text()
    # Our nodes by executable name (other packages' are theirs to install), simulators by
    # their path under lib/robot_bridges/.
    executables = re.findall(r"package='robot_bridges', executable='([a-z_]+)'",
                             source) + re.findall(
        r"'lib', 'robot_bridges', '([a-z_]+)'", source)
    for executable in executables:
        assert f"'{executable} = " in entry_points, f'{path.name}: no executable {executable}'
    for name in re.findall(r"'config', '([a-z_]+\.yaml)'", source):
        assert (ROOT / 'config' / name).is_file(), f'{path.name}: no config/{name}'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_launch_file_applies_the_dds_profile_first(path: Path) -> None:
    """Each file, alone or included, declares dds_profile and sets it before any process."""
    source = path.read_text()
    assert 'from robot_bridges.dds_profile import launch_actions as dds_profile_actions' \
        in source
    # The first entry of the description's action list: launch runs actions in order.
    first = re.search(r'(LaunchDescription\(\[|actions: List\[Action\] = \[)\n\s*(.*)\n',
                      source)
    assert first and first.group(2) == '*dds_profile_actions(),', path.name


def bring_up_bridges() -> dict[str, tuple[str, str]]:
    """Return the BRIDGES table of robot_bridges.launch.py (read without running it)."""
    tree = ast.parse(BRING_UP.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets
                                             if isinstance(t, ast.Name)] == ['BRIDGES']:
            return ast.literal_eval(node.value)
    raise AssertionError('robot_bridges.launch.py has no BRIDGES table')


def test_bring_up_includes_every_bridge_launch_file_with_its_params() -> None:
    bridges = bring_up_bridges()
    assert list(bridges) == ['chat', 'victor', 'letsrobot', 'dfx', 'reachy']
    included = {launch_file for launch_file, _ in bridges.values()}
    assert included == {p.name for p in LAUNCH_FILES} - {BRING_UP.name}
    configs = {params for _, params in bridges.values()}
    assert configs == {p.name for p in (ROOT / 'config').glob('*.yaml')}
    source = BRING_UP.read_text()
    # One enabling argument and one params argument per bridge, built from the table.
    assert 'DeclareLaunchArgument(name,' in source
    assert "DeclareLaunchArgument(f'{name}_params'," in source
    assert "DeclareLaunchArgument('sim'," in source


@pytest.mark.parametrize('path', [p for p in LAUNCH_FILES if p != BRING_UP],
                         ids=lambda p: p.name)
def test_every_bridge_launch_file_takes_the_arguments_bring_up_passes(path: Path) -> None:
    source = path.read_text()
    for argument in ('params_file', 'sim'):
        assert f"DeclareLaunchArgument('{argument}'," in source, f'{path.name}: {argument}'
    # Alone, a file starts the bridge only, except robot_chat.launch.py, which has always
    # started its relay too (its sim defaults to true; bring-up passes its own sim).
    default = re.search(r"DeclareLaunchArgument\('sim', default_value='(\w+)'", source)
    assert default and default.group(1) == ('true' if path.name == 'robot_chat.launch.py'
                                            else 'false')
