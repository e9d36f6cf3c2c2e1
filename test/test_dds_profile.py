"""The shipped Fast DDS profile: the file each distro reads, never over a user's, and it loads."""

import os
from pathlib import Path
import subprocess
import sys

import pytest
from robot_bridges.dds_profile import (profile_environment, profile_file, VARIABLES,
                                       with_profile)

ROOT = Path(__file__).resolve().parent.parent
SHARE = ROOT  # config/dds/ sits at the same place in the source tree and the share

# A child that publishes on a reliable topic with the default DataWriter profile and takes
# what it published back; it prints how many it got.
CHILD = """
import time, rclpy
from rclpy.node import Node
from robot_bridges.node.qos import reliable
from std_msgs.msg import String
rclpy.init()
node = Node('dds_profile_check')
got = []
node.create_subscription(String, 'dds_profile_check', lambda m: got.append(m.data), reliable(10))
pub = node.create_publisher(String, 'dds_profile_check', reliable(10))
deadline = time.monotonic() + 20
while pub.get_subscription_count() < 1 and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.05)
for n in range(5):
    pub.publish(String(data=str(n)))
while len(got) < 5 and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.05)
print('received', len(got))
"""


@pytest.mark.parametrize('distro, variable, file', [
    ('humble', 'FASTRTPS_DEFAULT_PROFILES_FILE', 'fastdds_v2.xml'),
    ('jazzy', 'FASTRTPS_DEFAULT_PROFILES_FILE', 'fastdds_v2.xml'),
    ('kilted', 'FASTDDS_DEFAULT_PROFILES_FILE', 'fastdds_v3.xml'),
    ('rolling', 'FASTDDS_DEFAULT_PROFILES_FILE', 'fastdds_v3.xml'),
    ('', 'FASTDDS_DEFAULT_PROFILES_FILE', 'fastdds_v3.xml'),
])
def test_each_distro_gets_the_file_of_its_fast_dds_in_the_variable_it_reads(
        distro: str, variable: str, file: str) -> None:
    name, path = profile_file(SHARE, distro)
    assert (name, Path(path)) == (variable, ROOT / 'config' / 'dds' / file)
    assert Path(path).is_file()
    assert profile_environment({'ROS_DISTRO': distro}, SHARE) == {variable: path}


@pytest.mark.parametrize('variable', VARIABLES)
def test_a_profile_the_user_set_is_kept_and_nothing_is_added(variable: str) -> None:
    environ = {'ROS_DISTRO': 'kilted', variable: '/home/me/my_profile.xml', 'HOME': '/home/me'}
    assert profile_environment(environ, SHARE) == {}
    assert with_profile(environ, SHARE) == environ


def test_an_empty_variable_counts_as_unset() -> None:
    environ = {'ROS_DISTRO': 'jazzy', 'FASTDDS_DEFAULT_PROFILES_FILE': ''}
    added = with_profile(environ, SHARE)
    assert added == {**environ, 'FASTRTPS_DEFAULT_PROFILES_FILE':
                     str(ROOT / 'config' / 'dds' / 'fastdds_v2.xml')}


def test_both_files_hold_the_same_writer_settings() -> None:
    v2 = (ROOT / 'config' / 'dds' / 'fastdds_v2.xml').read_text()
    v3 = (ROOT / 'config' / 'dds' / 'fastdds_v3.xml').read_text()
    for text in (v2, v3):
        assert '<disable_heartbeat_piggyback>true</disable_heartbeat_piggyback>' in text
        assert text.count('<nanosec>50000000</nanosec>') == 1
        assert text.count('<nanosec>20000000</nanosec>') == 1
    assert '<heartbeatPeriod>' in v2 and '<heartbeat_period>' in v3
    assert '<nackSupressionDuration>' in v2 and '<nack_supression_duration>' in v3


def run_child(profile: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run CHILD with only ``profile`` as the DDS profile variables."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    return subprocess.run([sys.executable, '-c', CHILD], env={**env, **profile}, cwd='/',
                          capture_output=True, text=True, timeout=60)


def test_this_distros_fast_dds_loads_its_profile_and_the_other_one_is_rejected() -> None:
    """
    Loaded cleanly: no XML parser error, and a reliable writer made from it delivers.

    The control: the other version's file in the same variable makes this Fast DDS say it
    could not parse it, so the clean run did read and parse the shipped file.
    """
    distro = os.environ.get('ROS_DISTRO', '')
    name, path = profile_file(SHARE, distro)
    shipped = run_child({name: path})
    # Fast DDS 3 logs to stderr, Fast DDS 2 to stdout.
    output = shipped.stdout + shipped.stderr
    assert 'received 5' in output and 'XMLPARSER' not in output, output[-2000:]
    other = str(Path(path).with_name('fastdds_v2.xml' if path.endswith('v3.xml')
                                     else 'fastdds_v3.xml'))
    rejected = run_child({name: other})
    assert 'XMLPARSER' in rejected.stdout + rejected.stderr, rejected.stderr[-2000:]
