"""
Launch every bridge together, each with its own params file; sim:=true adds the simulators.

    ros2 launch robot_bridges robot_bridges.launch.py sim:=true        # all five, simulated
    ros2 launch robot_bridges robot_bridges.launch.py dfx:=false letsrobot:=false
    ros2 launch robot_bridges robot_bridges.launch.py victor_params:=/path/to/my_victor.yaml

Each bridge keeps its own launch file (``robot_chat``, ``victor``, ``letsrobot``, ``dfx``,
``reachy`` ``.launch.py``), usable alone; this file includes each one in a scope of its own,
passing it ``params_file`` and ``sim``. Every bridge is on by default (``<bridge>:=false``
leaves it out); ``<bridge>_params`` defaults to the installed ``config/<bridge>.yaml``.
``sim`` is false by default: the bridges then talk to the services their params files
name. With ``sim:=true`` every included file also starts its simulators, on the loopback
ports it documents (chat relay 5001, Victor 8888/8889, LetsRobot 8100..8106, DFX 9080;
reachy_sim dials the Reachy bridge on 6171), and points its bridge at them.
``dds_profile`` (default true) starts everything with the shipped Fast DDS profile
(config/dds/) unless a profile variable is already set; each included file takes it too.
``single_process`` (default true) runs every bridge as a node of one process,
``robot_bridges_container``, with the same params files and namespaces (README, One
process); ``single_process:=false`` starts one process per bridge. The simulators are
separate processes either way.
"""

from typing import List

from launch import LaunchDescription
from launch.action import Action
from launch.actions import (DeclareLaunchArgument, GroupAction, IncludeLaunchDescription,
                            OpaqueFunction)
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare
from robot_bridges.dds_profile import launch_actions as dds_profile_actions
from robot_bridges.launch_bridges import collect_bridges, container_actions

# Enabling launch argument -> (the bridge's own launch file, its default params file).
BRIDGES = {
    'chat': ('robot_chat.launch.py', 'robot_chat.yaml'),
    'victor': ('victor.launch.py', 'victor.yaml'),
    'letsrobot': ('letsrobot.launch.py', 'letsrobot.yaml'),
    'dfx': ('dfx.launch.py', 'dfx.yaml'),
    'reachy': ('reachy.launch.py', 'reachy.yaml'),
}


def _bridge(name: str, launch_file: str, params_file: str) -> List[Action]:
    share = FindPackageShare('robot_bridges')
    include = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([share, 'launch', launch_file])),
        launch_arguments={'params_file': LaunchConfiguration(f'{name}_params'),
                          'sim': LaunchConfiguration('sim')}.items())
    return [
        DeclareLaunchArgument(name, default_value='true',
                              description=f'Start the {name} bridge ({launch_file}).'),
        DeclareLaunchArgument(f'{name}_params',
                              default_value=PathJoinSubstitution([share, 'config', params_file]),
                              description=f'YAML parameters of the {name} bridge.'),
        # Scoped: the launch configurations one file sets (namespace, params_file) must not
        # leak into the next one's defaults.
        GroupAction([include], scoped=True, condition=IfCondition(LaunchConfiguration(name))),
    ]


def generate_launch_description() -> LaunchDescription:
    """Every enabled bridge from its own launch file; sim:=true adds every simulator."""
    actions: List[Action] = [
        *dds_profile_actions(),
        DeclareLaunchArgument('sim', default_value='false',
                              description='Also start every simulator and use it.'),
        DeclareLaunchArgument('single_process', default_value='true',
                              description='Every bridge a node of one robot_bridges_container '
                                          '(false: one process per bridge).'),
        # The included files then collect their bridges instead of starting them.
        OpaqueFunction(function=collect_bridges,
                       condition=IfCondition(LaunchConfiguration('single_process'))),
    ]
    for name, (launch_file, params_file) in BRIDGES.items():
        actions += _bridge(name, launch_file, params_file)
    actions.append(OpaqueFunction(function=container_actions))
    return LaunchDescription(actions)
