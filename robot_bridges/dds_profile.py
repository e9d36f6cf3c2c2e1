"""
The middleware profile the bridges run with (``config/dds/``), and how a process gets it.

Fast DDS reads its default profile from an environment variable. Fast DDS 2 (ROS 2 Humble to
Jazzy) reads ``FASTRTPS_DEFAULT_PROFILES_FILE`` and names its tags in camelCase; Fast DDS 3
(Kilted, Rolling) reads ``FASTDDS_DEFAULT_PROFILES_FILE`` and also the old variable, and
rejects the old tag names. So one file per major version, and exactly one variable set, chosen
by ``ROS_DISTRO``. A user who set either variable owns the DDS configuration: nothing is set
then. Other RMW implementations ignore both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
FAST_DDS_2_DISTROS = frozenset({'humble', 'iron', 'jazzy'})


def profile_file(share_dir: str | Path, distro: str) -> tuple[str, str]:
    """Return ``(variable, path)``: the profile for ``distro``'s Fast DDS, under the share."""
    name, file = (('FASTRTPS_DEFAULT_PROFILES_FILE', 'fastdds_v2.xml')
                  if distro in FAST_DDS_2_DISTROS
                  else ('FASTDDS_DEFAULT_PROFILES_FILE', 'fastdds_v3.xml'))
    return name, str(Path(share_dir, 'config', 'dds', file))


def profile_environment(environ: Mapping[str, str], share_dir: str | Path) -> dict[str, str]:
    """Return the variable to add to ``environ`` for the shipped profile; {} if one is set."""
    if any(environ.get(name) for name in VARIABLES):
        return {}
    name, path = profile_file(share_dir, environ.get('ROS_DISTRO', ''))
    return {name: path}


def with_profile(environ: Mapping[str, str], share_dir: str | Path) -> dict[str, str]:
    """Return ``environ`` with the shipped profile added (see ``profile_environment``)."""
    return {**environ, **profile_environment(environ, share_dir)}


def launch_actions() -> list[object]:
    """
    Return the launch actions of the ``dds_profile`` argument (default true): apply the profile.

    For launch files only (imports ``launch`` when called). The processes a launch file starts
    after these actions run with the shipped profile, unless the user set a profile variable.
    """
    from ament_index_python.packages import get_package_share_directory
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
    from launch.conditions import IfCondition
    from launch.substitutions import LaunchConfiguration

    share = get_package_share_directory('robot_bridges')
    return [
        DeclareLaunchArgument(
            'dds_profile', default_value='true',
            description='Run with the shipped Fast DDS profile (config/dds/; README, '
                        '"High-rate topics"), unless a profile variable is already set.'),
        OpaqueFunction(
            function=lambda context: [
                SetEnvironmentVariable(name, path)
                for name, path in profile_environment(context.environment, share).items()],
            condition=IfCondition(LaunchConfiguration('dds_profile'))),
    ]
