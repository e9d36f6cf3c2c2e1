"""
Launch the Reachy bridge: the sync server the Unity simulator (or reachy_sim) dials.

    ros2 launch robot_bridges reachy.launch.py                 # then start Unity
    ros2 launch robot_bridges reachy.launch.py sim:=true       # with reachy_sim instead
    ros2 launch robot_bridges reachy.launch.py params_file:=/path/to/my_reachy.yaml

Parameters come from ``params_file`` (default: the installed config/reachy.yaml).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackagePrefix, FindPackageShare
from robot_bridges.dds_profile import launch_actions as dds_profile_actions


def generate_launch_description() -> LaunchDescription:
    """Start the bridge in its namespace, optionally with the simulated Unity client."""
    default_params = PathJoinSubstitution(
        [FindPackageShare('robot_bridges'), 'config', 'reachy.yaml'])
    simulator = PathJoinSubstitution(
        [FindPackagePrefix('robot_bridges'), 'lib', 'robot_bridges', 'reachy_sim'])
    return LaunchDescription([
        *dds_profile_actions(),
        DeclareLaunchArgument('namespace', default_value='reachy',
                              description='Namespace of the node.'),
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='YAML parameters of reachy_bridge.'),
        DeclareLaunchArgument('sim', default_value='false',
                              description='Also start reachy_sim (dials ws://127.0.0.1:6171).'),
        Node(package='robot_bridges', executable='reachy_bridge',
             namespace=LaunchConfiguration('namespace'),
             parameters=[LaunchConfiguration('params_file')],
             output='screen', emulate_tty=True),
        ExecuteProcess(cmd=[simulator], output='screen',
                       condition=IfCondition(LaunchConfiguration('sim'))),
    ])
