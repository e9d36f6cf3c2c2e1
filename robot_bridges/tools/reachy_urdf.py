"""
Executable reachy_urdf: print the URDF that reachy_bridge publishes for a params file.

    ros2 run robot_bridges reachy_urdf > reachy.urdf                 # the installed defaults
    ros2 run robot_bridges reachy_urdf --params-file my_reachy.yaml  # your joint table

For tools that want a file (check_urdf, rviz's RobotModel "File" source, a simulator).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import Sequence

from ament_index_python.packages import get_package_share_directory
from robot_bridges.bridges.reachy_params import description_from_params_file
import yaml


def default_params_file() -> str:
    """Return the installed config/reachy.yaml."""
    return str(Path(get_package_share_directory('robot_bridges')) / 'config' / 'reachy.yaml')


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges reachy_urdf``."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--params-file', help='YAML parameters of reachy_bridge '
                        '(default: the installed config/reachy.yaml)')
    parser.add_argument('--node-name', default='reachy_bridge',
                        help='the node whose section applies (default reachy_bridge)')
    args = parser.parse_args(argv)
    try:
        text = description_from_params_file(args.params_file or default_params_file(),
                                            args.node_name)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f'reachy_urdf: {exc}', file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
