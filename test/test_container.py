"""robot_bridges_container: several bridges in one process, each node on its own."""

from __future__ import annotations

from pathlib import Path
import signal
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from chat_fixtures import start_server
from lifecycle_msgs.msg import Transition
import pytest
from ros_helpers import Diagnostics, ProbeNode, Proc, wait_for
from sim_helpers import start_sim
from std_msgs.msg import Bool

NS = '/container_t'
CHAT = f'{NS}/robot_chat_bridge'
MIC = f'{NS}/victor_mic_bridge'
WEBVIZ = f'{NS}/webviz'
BRIDGES = ('--bridge', f'robot_chat_bridge:{NS}', '--bridge', f'victor_mic_bridge:{NS}',
           '--bridge', f'webviz_bridge:{NS}:webviz')


def params_file(path: Path, nodes: dict[str, dict[str, Any]]) -> str:
    """Write a params file keyed by fully-qualified node name; return its path."""
    lines = []
    for node, values in nodes.items():
        lines += [f'{node}:', '  ros__parameters:']
        lines += [f'    {key}: {value!r}' if isinstance(value, str) else
                  f'    {key}: {str(value).lower() if isinstance(value, bool) else value}'
                  for key, value in values.items()]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def simulated(procs: Callable[..., Proc], tmp_path: Path,
              **overrides: dict[str, Any]) -> str:
    """Start a chat relay and two Victor simulators; return the params file aiming at them."""
    _, chat_url = start_server(procs)
    _, mic_url = start_sim(procs)
    _, webviz_url = start_sim(procs)
    nodes = {CHAT: {'url': chat_url},
             MIC: {'port': urlsplit(mic_url).port},
             WEBVIZ: {'port': urlsplit(webviz_url).port}}
    for node, values in overrides.items():
        nodes[f'{NS}/{node}'] = {**nodes.get(f'{NS}/{node}', {}), **values}
    return params_file(tmp_path / 'params.yaml', nodes)


def container(procs: Callable[..., Proc], params: str, *bridges: str) -> Proc:
    """Start the container with ``bridges`` (default: chat, mic, webviz) and ``params``."""
    return procs('robot_bridges_container', *(bridges or BRIDGES),
                 '--ros-args', '--params-file', params)


def connected(ros: ProbeNode, node: str) -> Any:
    """Collect the node's own ``~/connected``."""
    return ros.subscribe_latched(Bool, f'{node}/connected')


def wait_connected(topic: Any, value: bool = True, timeout: float = 20.0) -> None:
    wait_for(lambda: topic.messages and topic.last.data is value, timeout,
             f'connected {value}')


def test_three_bridges_in_one_process_connect_each_as_its_own_node(
        procs: Callable[..., Proc], ros: ProbeNode, tmp_path: Path) -> None:
    topics = {node: connected(ros, node) for node in (CHAT, MIC, WEBVIZ)}
    proc = container(procs, simulated(procs, tmp_path))
    for topic in topics.values():
        wait_connected(topic)
    wait_for(lambda: {f'{ns}/{n}' for n, ns in ros.node.get_node_names_and_namespaces()}
             >= set(topics), 10, 'the three nodes in the graph')
    for node in topics:
        assert ros.lifecycle_state(node) == 'active'
    # Each node has its own parameters, from its own entry of the one params file.
    proc.wait_output(rf'\[{NS[1:]}.webviz\]: connected to ws://127.0.0.1:\d+/socket')
    start = time.monotonic()
    assert proc.stop() == 0, proc.output
    assert time.monotonic() - start < 2.5, 'a clean stop of all nodes takes at most 2 s'
    assert 'Traceback' not in proc.output, proc.output


def test_lifecycle_transitions_of_one_node_leave_the_others_alone(
        procs: Callable[..., Proc], ros: ProbeNode, tmp_path: Path) -> None:
    topics = {node: connected(ros, node) for node in (CHAT, MIC, WEBVIZ)}
    proc = container(procs, simulated(procs, tmp_path))
    for topic in topics.values():
        wait_connected(topic)
    assert ros.lifecycle(WEBVIZ, Transition.TRANSITION_DEACTIVATE)
    wait_connected(topics[WEBVIZ], False)
    assert ros.lifecycle_state(WEBVIZ) == 'inactive'
    assert ros.lifecycle_state(MIC) == 'active' and ros.lifecycle_state(CHAT) == 'active'
    time.sleep(0.5)
    assert topics[MIC].last.data and topics[CHAT].last.data
    assert ros.lifecycle(WEBVIZ, Transition.TRANSITION_CLEANUP)
    assert ros.lifecycle(WEBVIZ, Transition.TRANSITION_CONFIGURE)
    assert ros.lifecycle(WEBVIZ, Transition.TRANSITION_ACTIVATE)
    wait_connected(topics[WEBVIZ])
    assert all(topic.last.data for topic in topics.values())
    assert proc.stop(signal.SIGTERM) == 0 and 'Traceback' not in proc.output, proc.output


def test_a_bad_parameter_and_a_failed_configure_stay_with_their_node(
        procs: Callable[..., Proc], ros: ProbeNode, tmp_path: Path) -> None:
    mic = connected(ros, MIC)
    diagnostics = Diagnostics(ros)
    params = simulated(procs, tmp_path, webviz={'qos_depth': 0},
                       robot_chat_bridge={'url': 'http://not-a-websocket'})
    proc = container(procs, params)
    proc.wait_output(rf"\[ERROR\].*\[{NS[1:]}.webviz\]: parameter 'qos_depth': 0 is out of "
                     r'range.*; not started, the other bridges run')
    proc.wait_output(rf'\[ERROR\].*\[{NS[1:]}.robot_chat_bridge\]: configure failed: .*'
                     'not-a-websocket')
    wait_connected(mic)
    assert ros.lifecycle_state(CHAT) == 'unconfigured'
    diagnostics.wait(CHAT, lambda v: v['_message'].startswith('configure failed'))
    # The node that could not be made has left the graph (it was there while declaring).
    wait_for(lambda: ('webviz', NS) not in ros.node.get_node_names_and_namespaces(), 5,
             'the half-made node to leave the graph')
    assert proc.returncode is None
    assert proc.stop() == 0, 'one bridge running: a clean stop is a success'
    assert 'Traceback' not in proc.output, proc.output


def test_every_bridge_failing_exits_1_and_a_bad_spec_exits_2(
        procs: Callable[..., Proc], tmp_path: Path) -> None:
    params = params_file(tmp_path / 'bad.yaml',
                         {CHAT: {'url': 'http://nowhere'}, MIC: {'max_samples': 0}})
    failed = container(procs, params, '--bridge', f'robot_chat_bridge:{NS}',
                       '--bridge', f'victor_mic_bridge:{NS}')
    assert failed.wait_exit(20) == 1, failed.output
    only_bad = container(procs, params, '--bridge', f'victor_mic_bridge:{NS}')
    assert only_bad.wait_exit(20) == 2, 'as the bridge alone would'
    for spec in ('nope', 'webviz_bridge:bad ns', 'webviz_bridge:/x:1name', 'a:b:c:d'):
        bad = procs('robot_bridges_container', '--bridge', spec)
        assert bad.wait_exit(20) == 2
        lines = bad.output.splitlines()
        assert len(lines) == 1 and 'argument --bridge' in lines[0], bad.output
    twice = procs('robot_bridges_container', '--bridge', 'webviz_bridge:/x',
                  '--bridge', 'webviz_bridge:x')
    assert twice.wait_exit(20) == 2 and '/x/webviz_bridge is given twice' in twice.output
    for proc in (failed, only_bad):
        assert 'Traceback' not in proc.output, proc.output


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_every_node_within_2_s(
        procs: Callable[..., Proc], ros: ProbeNode, tmp_path: Path, sig: int) -> None:
    topics = {node: connected(ros, node) for node in (CHAT, MIC, WEBVIZ)}
    proc = container(procs, simulated(procs, tmp_path))
    for topic in topics.values():
        wait_connected(topic)
    start = time.monotonic()
    assert proc.stop_repeatedly(sig, signal.SIGINT) == 0, proc.output
    assert time.monotonic() - start < 2.5, 'a clean stop takes at most 2 s'
    assert 'Traceback' not in proc.output and 'KeyboardInterrupt' not in proc.output
