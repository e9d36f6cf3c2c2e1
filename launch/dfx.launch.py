"""
Launch the DFX API bridge, optionally with the simulator standing in for the API.

    DFX_TOKEN=<token> ros2 launch robot_bridges dfx.launch.py
    ros2 launch robot_bridges dfx.launch.py params_file:=/path/to/my_dfx.yaml
    ros2 launch robot_bridges dfx.launch.py sim:=true   # simulator on :9080

The token comes from the environment (``DFX_TOKEN``) or ``params_file``; never put it on a
command line. With ``sim:=true`` the simulator (plain ws on 127.0.0.1:9080) is started and
the bridge's ``url`` points at it; both get the token ``DFX_TOKEN`` names, or one made up for
this launch when it is unset (as the main job does), through the simulator's environment and
the bridge's parameters (a file of launch_ros', never a command line).
"""

import secrets
from typing import List

from launch import LaunchContext, LaunchDescription
from launch.action import Action
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackagePrefix, FindPackageShare
from robot_bridges.dds_profile import launch_actions as dds_profile_actions
from robot_bridges.launch_bridges import bridge_actions

SIM_URL = 'ws://127.0.0.1:9080'


def _bridge(context: LaunchContext) -> List[Action]:
    sim = LaunchConfiguration('sim').perform(context).lower() in ('true', '1', 'yes')
    parameters: list = [LaunchConfiguration('params_file')]
    actions: List[Action] = []
    if sim:
        token = context.environment.get('DFX_TOKEN') or f'sim-{secrets.token_hex(12)}'
        simulator = PathJoinSubstitution(
            [FindPackagePrefix('robot_bridges'), 'lib', 'robot_bridges', 'dfx_sim'])
        actions.append(ExecuteProcess(cmd=[simulator, '--port', '9080'], output='screen',
                                      additional_env={'DFX_TOKEN': token}))
        parameters.append({'url': SIM_URL, 'token': token})
    return actions + bridge_actions(context, ('dfx_bridge',), LaunchConfiguration('namespace'),
                                    parameters)


def generate_launch_description() -> LaunchDescription:
    """Start the bridge, and with sim:=true the DFX simulator it then talks to."""
    default_params = PathJoinSubstitution(
        [FindPackageShare('robot_bridges'), 'config', 'dfx.yaml'])
    return LaunchDescription([
        *dds_profile_actions(),
        DeclareLaunchArgument('namespace', default_value='dfx',
                              description='Namespace of the node.'),
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='YAML parameters of the node.'),
        DeclareLaunchArgument('sim', default_value='false',
                              description='Also start dfx_sim on 127.0.0.1:9080 and use it.'),
        OpaqueFunction(function=_bridge),
    ])
