"""
Launch the Robot Chat relay server and one robot_chat_bridge (namespace robot_chat).

    ros2 launch robot_bridges robot_chat.launch.py                 # relay on 127.0.0.1:5001
    ros2 launch robot_bridges robot_chat.launch.py sim:=false      # bridge only

``sim`` (default true) starts the relay (robot_chat_server) that the default params file's
``url`` points at; with ``sim:=false`` the bridge talks to the server ``params_file`` names.
"""

from pathlib import Path
from typing import List

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.action import Action
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from robot_bridges.dds_profile import launch_actions as dds_profile_actions
from robot_bridges.launch_bridges import bridge_actions


def _bridge(context: LaunchContext) -> List[Action]:
    return bridge_actions(context, ('robot_chat_bridge',), 'robot_chat',
                          [LaunchConfiguration('params_file')])


def generate_launch_description() -> LaunchDescription:
    """Return the server on --port 5001 (loopback) and the bridge with its parameters."""
    default_params = Path(get_package_share_directory('robot_bridges')) / 'config' / \
        'robot_chat.yaml'
    return LaunchDescription([
        *dds_profile_actions(),
        DeclareLaunchArgument('params_file', default_value=str(default_params),
                              description='YAML parameters of robot_chat_bridge'),
        DeclareLaunchArgument('server_host', default_value='127.0.0.1',
                              description='interface the relay binds (0.0.0.0: all)'),
        DeclareLaunchArgument('server_port', default_value='5001',
                              description='TCP port of the relay'),
        DeclareLaunchArgument('sim', default_value='true',
                              description='Start the relay server (robot_chat_server)'),
        Node(package='robot_bridges', executable='robot_chat_server', name='robot_chat_server',
             arguments=['--host', LaunchConfiguration('server_host'),
                        '--port', LaunchConfiguration('server_port')],
             output='screen', condition=IfCondition(LaunchConfiguration('sim'))),
        OpaqueFunction(function=_bridge),
    ])
