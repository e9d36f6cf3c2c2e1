"""Where the conformance tests find the real third-party peers (scripts/peers.sh)."""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest


def peers_root() -> Path:
    """Return `.ros/peers` of this checkout (made by scripts/peers.sh)."""
    root = os.environ.get('ROBOT_BRIDGES_ROOT') or str(Path(__file__).resolve().parents[1])
    return Path(root) / '.ros' / 'peers'


def require_peer(service: str, *inside: str) -> Path:
    """
    Return the peer environment of `service`, or skip the test with a one-line reason.

    Under CI=true a missing peer fails the test instead: a conformance test must run there.
    `inside` names paths that must exist in the environment (e.g. 'bin/python').
    """
    env = peers_root() / service
    missing = [p for p in ('.peer_stamp', *inside) if not (env / p).exists()]
    if missing:
        reason = (f'real peer {service!r} is not installed ({env} lacks {", ".join(missing)}); '
                  'scripts/test.sh installs it from test/peers/' + service)
        if os.environ.get('CI') == 'true':
            pytest.fail(reason + ' (CI=true: a conformance test must run)', pytrace=False)
        pytest.skip(reason)
    return env


def require_ros_tools() -> dict[str, str]:
    """
    Return the environment in which ``ros2`` (launch, CLI) runs, or skip with a reason.

    The tools are this checkout's test-only install (scripts/peers.sh: the venv's wheels and
    composition_interfaces built into .ros/<distro>/tools), or a sourced ROS installation's
    own. Under CI=true a missing install fails the test instead (Kilted only: Jazzy skips).
    """
    env = dict(os.environ)
    root = os.environ.get('ROBOT_BRIDGES_ROOT') or str(Path(__file__).resolve().parents[1])
    distro = os.environ.get('ROS_DISTRO', 'kilted')
    install = Path(root) / '.ros' / distro / 'tools' / 'install'
    if (install.parent / '.tools_stamp').exists():
        python = f'python{sys.version_info.major}.{sys.version_info.minor}'
        for name, path in (('AMENT_PREFIX_PATH', install),
                           ('CMAKE_PREFIX_PATH', install),
                           ('PYTHONPATH', install / 'lib' / python / 'site-packages'),
                           ('LD_LIBRARY_PATH', install / 'lib')):
            env[name] = os.pathsep.join(filter(None, (str(path), env.get(name))))
    ros2 = shutil.which('ros2', path=env.get('PATH'))
    probe = subprocess.run([sys.executable, '-c', 'import launch_ros, ros2cli, '
                            'composition_interfaces.srv'], env=env, capture_output=True)
    if ros2 is not None and probe.returncode == 0:
        return env
    reason = (f'the ROS 2 launch and command-line tools are not installed (ros2: {ros2}; '
              f'{probe.stderr.decode(errors="replace").strip().splitlines()[-1:]}); '
              'scripts/test.sh installs them from ../shared/ros-tools (Kilted)')
    if os.environ.get('CI') == 'true' and distro == 'kilted':
        pytest.fail(reason + ' (CI=true: the launch-file tests must run)', pytrace=False)
    pytest.skip(reason)
