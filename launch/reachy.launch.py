"""
Launch the Reachy bridge: the sync server the Unity simulator (or reachy_sim) dials.

    ros2 launch robot_bridges reachy.launch.py                 # then start Unity
    ros2 launch robot_bridges reachy.launch.py sim:=true       # with reachy_sim instead
    ros2 launch robot_bridges reachy.launch.py params_file:=/path/to/my_reachy.yaml
    ros2 launch robot_bridges reachy.launch.py description:=true  # + robot_state_publisher

Parameters come from ``params_file`` (default: the installed config/reachy.yaml). With
``description:=true`` robot_state_publisher (a ROS installation has it) gets the URDF the
bridge would publish for that file, publishes it on robot_description and the TF of
joint_states; the bridge's own robot_description is then off.
"""

from typing import Any

from launch import LaunchContext, LaunchDescription
from launch.action import Action
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackagePrefix, FindPackageShare
from robot_bridges.bridges.reachy_params import description_from_params_file
from robot_bridges.dds_profile import launch_actions as dds_profile_actions
from robot_bridges.launch_bridges import bridge_actions


def robot_state_publisher(context: LaunchContext) -> list[Node]:
    """Start robot_state_publisher with the bridge's URDF, in the bridge's namespace."""
    params_file = LaunchConfiguration('params_file').perform(context)
    return [Node(package='robot_state_publisher', executable='robot_state_publisher',
                 namespace=LaunchConfiguration('namespace'), output='screen',
                 parameters=[{'robot_description':
                              description_from_params_file(params_file)}])]


def bridge(context: LaunchContext) -> list[Action]:
    """Start the bridge; with robot_state_publisher its own robot_description is off."""
    parameters: list[Any] = [LaunchConfiguration('params_file')]
    # The same reading of `description` as the condition that starts robot_state_publisher;
    # without it the params file decides.
    if IfCondition(LaunchConfiguration('description')).evaluate(context):
        parameters.append({'publish_description': False})
    return bridge_actions(context, ('reachy_bridge',), LaunchConfiguration('namespace'),
                          parameters)


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
        DeclareLaunchArgument('description', default_value='false',
                              description='Also start robot_state_publisher with the URDF.'),
        OpaqueFunction(function=bridge),
        OpaqueFunction(function=robot_state_publisher,
                       condition=IfCondition(LaunchConfiguration('description'))),
        ExecuteProcess(cmd=[simulator], output='screen',
                       condition=IfCondition(LaunchConfiguration('sim'))),
    ])
