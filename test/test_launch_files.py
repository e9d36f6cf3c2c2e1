"""
Every launch file under the real `ros2 launch`, with its documented arguments (issue #22).

Two runs, each checking many things: the bring-up with every simulator (sim:=true), stopped
by SIGINT twice to its process group; then each bridge's own file at once, each in a
namespace given on its command line, each stopped by one SIGINT to launch. Each run: every
node active within a bound, topics flowing, params files applied, ``ros2 param`` and
``ros2 service call`` as a user types them, launch's exit code 0, every process "finished
cleanly", nothing left running (ffmpeg included). The simulators listen on the fixed ports
the launch files document: the test takes turns with other runs (fixture ``fixed_ports``) and
waits for them to be free.
"""

from __future__ import annotations

from pathlib import Path
import re
import socket
import time
from typing import Any, Iterator

from launch_helpers import command_lines_of, get_parameters, Launch, ros2
from peer_helpers import require_ros_tools
import pytest
from robot_bridges.msg import LetsRobotCommand, MicDirection
from ros_helpers import Collector, Diagnostics, ProbeNode, wait_for
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Ports of the simulators and of reachy_bridge's server under sim:=true (README).
PORTS = (5001, 8888, 8889, 9080, 6171, *range(8100, 8107))
# From the start of `ros2 launch` to every bridge active and connected (2 loaded cores).
UP_WITHIN_S = 60.0
STOP_WITHIN_S = 20.0


@pytest.fixture(scope='module')
def tools() -> dict[str, str]:
    """Return the environment with the real ``ros2`` (skips, or fails under CI, without)."""
    return require_ros_tools()


@pytest.fixture
def launches() -> Iterator[list[Launch]]:
    """Collect the launches a test starts; kill whatever a failed test left running."""
    started: list[Launch] = []
    yield started
    for launch in started:
        if launch.left_behind() or launch._popen.poll() is None:  # noqa: SLF001
            launch.kill()


def params_copy(directory: Path, name: str, **changes: dict[str, Any]) -> Path:
    """Write config/<name> with ``changes`` ({node: {parameter: value}}) into ``directory``."""
    document = yaml.safe_load((ROOT / 'config' / name).read_text())
    for key, section in document.items():
        section['ros__parameters'].update(changes.get(key.rsplit('/', 1)[-1], {}))
    path = directory / name
    path.write_text(yaml.safe_dump(document))
    return path


def wait_ports_free(timeout: float = 90.0) -> None:
    """Wait until no other process listens on the simulators' ports (other test runs)."""
    def busy() -> list[int]:
        taken = []
        for port in PORTS:
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(('127.0.0.1', port))
                except OSError:
                    taken.append(port)
        return taken
    wait_for(lambda: not busy(), timeout, f'the simulator ports to be free: {busy()} in use')


def wait_connected(ros: ProbeNode, namespaces: list[str], launch: Launch) -> float:
    """Wait until every bridge's ``connected`` is true; return seconds since launch began."""
    latched = {ns: ros.subscribe_latched(Bool, f'{ns}/connected') for ns in namespaces}

    def all_connected() -> bool:
        assert launch._popen.poll() is None, launch.output[-4000:]  # noqa: SLF001
        return all(len(c) and c.last.data for c in latched.values())
    try:
        wait_for(all_connected, UP_WITHIN_S, 'every bridge connected')
    except AssertionError:
        down = [ns for ns, c in latched.items() if not (len(c) and c.last.data)]
        raise AssertionError(f'not connected: {down}\n{launch.output[-4000:]}') from None
    # Connected, but maybe to another run's simulator (this machine is shared).
    assert not launch.lines('address already in use'), \
        f'another process took a simulator port after the check:\n{launch.output[-4000:]}'
    return time.monotonic() - launch.started_at


def rate(collector: Collector[Any], for_s: float) -> float:
    """Return the messages per second ``collector`` gets over the next ``for_s`` seconds."""
    before = len(collector)
    time.sleep(for_s)
    return (len(collector) - before) / for_s


@pytest.mark.usefixtures('fixed_ports')
@pytest.mark.parametrize('single_process', ['true', 'false'])
def test_bring_up_with_every_simulator_then_sigint_twice(
        ros: ProbeNode, tools: dict[str, str], launches: list[Launch], tmp_path: Path,
        single_process: str) -> None:
    # Params files through the documented arguments, each with a value that differs from
    # the default, so that applying them shows. qos_depth 5: max_publish_rate's queue
    # overflows within seconds once the rate is lowered below the simulator's 10 Hz.
    victor = params_copy(tmp_path, 'victor.yaml',
                         victor_mic_bridge={'frame_id': 'launch_test_mic', 'qos_depth': 5})
    chat = params_copy(tmp_path, 'robot_chat.yaml',
                       robot_chat_bridge={'frame_id': 'launch_test_chat'})
    wait_ports_free()
    mic = ros.subscribe(MicDirection, '/victor/mic_direction')
    commands = ros.subscribe(LetsRobotCommand, '/letsrobot/command')
    joints = ros.subscribe(JointState, '/reachy/joint_states')
    diagnostics = Diagnostics(ros)
    launch = Launch(tools, 'robot_bridges.launch.py', 'sim:=true',
                    f'victor_params:={victor}', f'chat_params:={chat}',
                    f'single_process:={single_process}')
    launches.append(launch)
    up_s = wait_connected(ros, ['/robot_chat', '/victor', '/letsrobot', '/dfx', '/reachy'],
                          launch)
    for node in ('/robot_chat/robot_chat_bridge', '/victor/victor_mic_bridge',
                 '/victor/webviz_bridge', '/letsrobot/letsrobot_bridge', '/dfx/dfx_bridge',
                 '/reachy/reachy_bridge'):
        assert ros.lifecycle_state(node) == 'active', node
    # 6 simulators, and 6 bridges: in one container or a process each.
    bridges = 1 if single_process == 'true' else 6
    assert len(launch.started()) == 6 + bridges, launch.started()
    containers = [name for name in launch.started() if name.startswith('robot_bridges_container')]
    assert len(containers) == (1 if single_process == 'true' else 0), launch.started()
    print(f'LAUNCH bring-up: every bridge active and connected {up_s:.1f} s after start')
    # The container's file of launch-given values (sim URLs, the DFX token) exists while it
    # runs; assert_stopped_cleanly checks it is gone.
    assert len(launch.temp_files()) == (1 if single_process == 'true' else 0), \
        launch.temp_files()

    # Topics flow; the params files were applied.
    assert mic.wait_count(5, 20)[-1].header.frame_id == 'launch_test_mic'
    commands.wait_count(1, 30)
    joints.wait_count(10, 20)
    assert get_parameters(ros, '/victor/victor_mic_bridge', ['frame_id', 'qos_depth']) == \
        {'frame_id': 'launch_test_mic', 'qos_depth': 5}
    assert get_parameters(ros, '/robot_chat/robot_chat_bridge', ['frame_id']) == \
        {'frame_id': 'launch_test_chat'}
    ffmpeg = [line for line in command_lines_of(launch.left_behind()) if 'ffmpeg' in line]
    assert len(ffmpeg) == 2, ffmpeg  # video and audio: the orphan check below covers them

    # #22 point 3: the service as the CLI user types it.
    out = ros2(tools, 'service', 'call', '/reachy/set_fan', 'robot_bridges/srv/SetFan',
               '{name: left_arm.shoulder_fan, enabled: true}')
    assert 'success=True' in out and 'left_arm.shoulder_fan on' in out, out

    # #22 point 5: a parameter read at configure is refused with a reason; the rate is
    # applied at run time, with the integer a user types taken for the double.
    out = ros2(tools, 'param', 'set', '--no-daemon', '--timeout', '10',
               '/victor/victor_mic_bridge', 'max_samples', '5', check=False)
    assert 'Setting parameter failed' in out and 'read-only' in out, out
    out = ros2(tools, 'param', 'describe', '--no-daemon', '--timeout', '10',
               '/victor/victor_mic_bridge', 'max_samples', 'max_publish_rate')
    assert 'Read-only: takes effect at configure.' in out and 'Applied at run time' in out
    before = rate(mic, 3.0)
    out = ros2(tools, 'param', 'set', '--no-daemon', '--timeout', '10',
               '/victor/victor_mic_bridge', 'max_publish_rate', '2')
    assert 'Set parameter successful' in out, out
    time.sleep(1.5)  # the queue of 5 fills, then one leaves per 0.5 s
    received = int(diagnostics.values('/victor/victor_mic_bridge')['messages_in'])
    after = rate(mic, 6.0)
    # What the bridge got from the simulator meanwhile (its own count: no subscriber lag).
    received = (int(diagnostics.values('/victor/victor_mic_bridge')['messages_in']) -
                received) / 6.0
    print(f'LAUNCH mic_direction: {before:.1f} msg/s, then {after:.1f} msg/s at '
          f'max_publish_rate 2 of the {received:.1f} msg/s received')
    assert received >= 3.0 and 1.2 <= after <= 2.7, \
        f'{before}, {after}, {received}\n{launch.output[-3000:]}'

    # #22 point 6: the steady overflow is one warning and a state, not a line per drop.
    values = diagnostics.wait('/victor/victor_mic_bridge',
                              lambda v: v.get('paced_overflow') == 'true', 10)
    assert int(values['dropped']) > 0, values
    warnings = launch.lines(r'max_publish_rate: mic_direction receives more than 2 msg/s')
    assert len(warnings) == 1, warnings
    assert len(launch.lines(r'\[WARN\].*max_publish_rate')) == 1  # no line per drop

    # #22 point 4: SIGINT twice to the whole group (as a supervisor on top of launch).
    launch.interrupt(2)
    launch.assert_stopped_cleanly(launch.wait_exit(STOP_WITHIN_S))


# Each bridge's own file, its documented arguments, the nodes it must bring up.
ALONE = {
    'robot_chat.launch.py': (('server_port:=5001',), ['/robot_chat/robot_chat_bridge']),
    'victor.launch.py': (('sim:=true', 'namespace:={ns}', 'host:=127.0.0.1'),
                         ['{ns}/victor_mic_bridge', '{ns}/webviz_bridge']),
    'letsrobot.launch.py': (('sim:=true', 'namespace:={ns}'), ['{ns}/letsrobot_bridge']),
    'dfx.launch.py': (('sim:=true', 'namespace:={ns}'), ['{ns}/dfx_bridge']),
    'reachy.launch.py': (('sim:=true', 'namespace:={ns}'), ['{ns}/reachy_bridge']),
}


@pytest.mark.usefixtures('fixed_ports')
def test_each_bridge_launch_file_alone_in_its_namespace_then_one_sigint(
        ros: ProbeNode, tools: dict[str, str], launches: list[Launch]) -> None:
    # Their simulators use different ports: all five run at once.
    wait_ports_free()
    nodes: dict[str, list[str]] = {}
    for launch_file, (arguments, expected) in ALONE.items():
        ns = '/launch_test_' + re.sub(r'\W', '_', launch_file.split('.')[0])
        launches.append(Launch(tools, launch_file, *(a.format(ns=ns) for a in arguments)))
        nodes[launch_file] = [node.format(ns=ns) for node in expected]
    for launch in launches:
        namespaces = sorted({node.rsplit('/', 1)[0] for node in nodes[launch.name]})
        up_s = wait_connected(ros, namespaces, launch)
        for node in nodes[launch.name]:
            assert ros.lifecycle_state(node) == 'active', node
        print(f'LAUNCH {launch.name}: {nodes[launch.name]} active and connected {up_s:.1f} s '
              'after start')
    # The namespace argument moves the topics too.
    pushes = [ros.subscribe(String, f'/launch_test_victor/webviz/{module}')
              for module in ('observedobjects', 'intents')]
    mic = ros.subscribe(MicDirection, '/launch_test_victor/mic_direction')
    mic.wait_count(3, 20)
    wait_for(lambda: any(len(c) for c in pushes), 20, 'a webviz push')
    assert get_parameters(ros, '/launch_test_dfx/dfx_bridge', ['url']) == \
        {'url': 'ws://127.0.0.1:9080'}
    for launch in launches:
        launch.interrupt(1)
    for launch in launches:
        launch.assert_stopped_cleanly(launch.wait_exit(STOP_WITHIN_S))
