"""
Launch the LetsRobot.tv bridge (and, with sim:=true, the simulator standing in for the site).

    ros2 launch robot_bridges letsrobot.launch.py params_file:=/path/to/my_robot.yaml
    LETSROBOT_STREAM_KEY=... ros2 launch robot_bridges letsrobot.launch.py robot_id:=12345
    ros2 launch robot_bridges letsrobot.launch.py sim:=true   # simulator on 127.0.0.1:8100..8106

Parameters come from ``params_file`` (default: the installed config/letsrobot.yaml). With
``sim:=true`` the bridge is pointed at the simulator, with the ``test`` video and audio
sources and the simulator's stream key.
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

SIM_PORT = 8100
SIM_STREAM_KEY = 'sim-stream-key'


def _simulator_parameters() -> dict:
    base = f'http://127.0.0.1:{SIM_PORT}'
    return {'info_server': base, 'api_server': base,
            'app_server': f'http://127.0.0.1:{SIM_PORT + 3}',
            'user_server': f'http://127.0.0.1:{SIM_PORT + 4}', 'relay_scheme': 'http',
            'robot_id': 'sim_robot', 'camera_id': 'sim_camera', 'stream_key': SIM_STREAM_KEY,
            'video_source': 'test', 'audio_source': 'test'}


def _bridge(context: LaunchContext) -> List[Action]:
    parameters: list = [LaunchConfiguration('params_file')]
    if LaunchConfiguration('sim').perform(context).lower() in ('true', '1'):
        parameters.append(_simulator_parameters())
    robot_id = LaunchConfiguration('robot_id').perform(context)
    if robot_id:
        parameters.append({'robot_id': robot_id})
    return bridge_actions(context, ('letsrobot_bridge',), LaunchConfiguration('namespace'),
                          parameters)


def generate_launch_description() -> LaunchDescription:
    """Start the bridge, optionally with the simulator standing in for LetsRobot.tv."""
    default_params = PathJoinSubstitution(
        [FindPackageShare('robot_bridges'), 'config', 'letsrobot.yaml'])
    simulator = PathJoinSubstitution(
        [FindPackagePrefix('robot_bridges'), 'lib', 'robot_bridges', 'letsrobot_sim'])
    return LaunchDescription([
        *dds_profile_actions(),
        DeclareLaunchArgument('namespace', default_value='letsrobot',
                              description='Namespace of the node.'),
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='YAML parameters of the node.'),
        DeclareLaunchArgument('robot_id', default_value='',
                              description='The robot id; empty: as in params_file.'),
        DeclareLaunchArgument('sim', default_value='false',
                              description=f'Also start the simulator on 127.0.0.1:{SIM_PORT}.'),
        ExecuteProcess(cmd=[simulator, '--port', str(SIM_PORT), '--stream-key', SIM_STREAM_KEY],
                       output='screen', condition=IfCondition(LaunchConfiguration('sim'))),
        OpaqueFunction(function=_bridge),
    ])
