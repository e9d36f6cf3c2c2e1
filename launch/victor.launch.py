"""
Launch the Victor bridges: victor_mic_bridge (micdata) and webviz_bridge (engine modules).

    ros2 launch robot_bridges victor.launch.py host:=192.168.1.20
    ros2 launch robot_bridges victor.launch.py params_file:=/path/to/my_victor.yaml
    ros2 launch robot_bridges victor.launch.py sim:=true   # simulators on 8888 and 8889

Parameters come from ``params_file`` (default: the installed config/victor.yaml); ``host``,
when given, overrides the robot's address in both nodes.
"""

from typing import List

from launch import LaunchContext, LaunchDescription
from launch.action import Action
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackagePrefix, FindPackageShare
from robot_bridges.dds_profile import launch_actions as dds_profile_actions
from robot_bridges.launch_bridges import bridge_actions


def _bridges(context: LaunchContext) -> List[Action]:
    host = LaunchConfiguration('host').perform(context)
    parameters = [LaunchConfiguration('params_file')] + ([{'host': host}] if host else [])
    return bridge_actions(context, ('victor_mic_bridge', 'webviz_bridge'),
                          LaunchConfiguration('namespace'), parameters)


def _simulator(port: str) -> ExecuteProcess:
    # The robot serves the engine modules on 8888 and micdata/animations on 8889; one
    # simulator serves every module, so two stand in for the robot's two processes.
    executable = PathJoinSubstitution(
        [FindPackagePrefix('robot_bridges'), 'lib', 'robot_bridges', 'victor_sim'])
    return ExecuteProcess(cmd=[executable, '--port', port], output='screen',
                          condition=IfCondition(LaunchConfiguration('sim')))


def generate_launch_description() -> LaunchDescription:
    """Both bridges in one namespace, optionally with simulators standing in for the robot."""
    default_params = PathJoinSubstitution(
        [FindPackageShare('robot_bridges'), 'config', 'victor.yaml'])
    return LaunchDescription([
        *dds_profile_actions(),
        DeclareLaunchArgument('namespace', default_value='victor',
                              description='Namespace of both nodes.'),
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='YAML parameters for both nodes.'),
        DeclareLaunchArgument('host', default_value='',
                              description="The robot's address; empty: as in params_file."),
        DeclareLaunchArgument('sim', default_value='false',
                              description='Also start simulators on 127.0.0.1:8888 and :8889.'),
        _simulator('8888'),
        _simulator('8889'),
        OpaqueFunction(function=_bridges),
    ])
