"""webviz_bridge end to end: simulator, bridge process, ROS probe in this process."""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from lifecycle_msgs.msg import Transition
from ros_helpers import Collector, Diagnostics, free_port, ProbeNode, Proc, wait_for
from sim_helpers import sim_thread_fixture, SimThread, start_sim  # noqa: F401 - a fixture
from std_msgs.msg import String

MODULES = ['animations', 'observedobjects', 'intents', 'behaviors']


def decoded(collector: Collector[String], count: int = 1, timeout: float = 15.0) -> list[Any]:
    """Wait for ``count`` messages; check each is compact JSON; return them decoded."""
    values = []
    for msg in collector.wait_count(count, timeout):
        value = json.loads(msg.data)
        assert msg.data == json.dumps(value, separators=(',', ':')), 'not compact JSON'
        values.append(value)
    return values


def test_modules_become_topics_and_requests_reach_the_robot(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    port = free_port()
    topics = {m: ros.subscribe(String, f'/wv/webviz/{m}') for m in MODULES}
    diagnostics = Diagnostics(ros)
    bridge = procs('webviz_bridge', namespace='/wv', params={
        'port': port, 'modules': MODULES, 'reconnect_min_s': 0.1, 'reconnect_max_s': 0.3})
    for module in MODULES:
        ros.wait_publishers(f'/wv/webviz/{module}')
    # The robot answers a new subscriber at once (intents, behaviors): start it only now.
    start_sim(procs, port, '--pretty')

    snapshot = decoded(topics['intents'])[0]
    assert {(b['intentType'], b['type']) for b in snapshot} >= \
        {('user', 'all-intents'), ('cloud', 'all-intents')}
    tree, ids = decoded(topics['behaviors'], 2)[:2]
    assert isinstance(tree, dict) and 'Wait' in ids
    animation = decoded(topics['animations'], 1, 10)[0]
    assert animation['type'] == 'start' and isinstance(animation['animation'], str)
    sighting = decoded(topics['observedobjects'])[0]
    assert sighting['type'] == 'RobotObservedObject'

    request = ros.publisher(String, '/wv/webviz/intents/request')
    count = len(topics['intents'])
    request.publish(String(data='not json'))
    request.publish(String(data='[1, 2]'))
    request.publish(String(data='{"intentType": "user",\n "request": "play_fistbump"}'))
    wait_for(lambda: any(
        blob.get('value') == 'play_fistbump'
        for value in decoded(topics['intents'], count + 1)[count:] for blob in value), 10,
        f'the requested intent among {[m.data for m in topics["intents"].messages]}')
    values = diagnostics.wait('/wv/webviz_bridge', lambda v: int(v['decode_errors']) >= 2)
    assert values['decode_errors'] == '2', values
    assert values['modules'] == ','.join(MODULES) and values['connected'] == 'true'
    assert 'bad request: rejected a request for intents: request is not JSON' in bridge.output
    assert 'Traceback' not in bridge.output


def test_bad_frames_and_unsubscribed_modules_are_counted(
        procs: Callable[..., Proc], ros: ProbeNode,
        sim_thread: Callable[..., SimThread]) -> None:
    server = sim_thread(autoplay=False)
    sim = server.sim
    intents = ros.subscribe(String, '/wv_bad/webviz/intents')
    diagnostics = Diagnostics(ros)
    bridge = procs('webviz_bridge', namespace='/wv_bad',
                   params={'port': sim.port, 'modules': ['intents', 'vision']})
    server.run(sim.wait_for_subscribers('intents', timeout=15))
    server.run(sim.wait_for_subscribers('vision', timeout=15))
    ros.wait_publishers('/wv_bad/webviz/intents')
    for frame in ('not json', '[1, 2]', '{"module": "micdata", "data": {"time": 1.0}}',
                  '{"module": 5, "data": {}}', '{"keepalive": true}'):
        server.call(sim.send_raw, frame)
    data = {'nested': {'list': [1, 2.5, None, True, 'text']}}
    assert server.call(sim.push, 'intents', data) == 1
    assert decoded(intents)[0] == data
    diagnostics.wait('/wv_bad/webviz_bridge', lambda v: v['decode_errors'] == '4')
    assert "unexpected module: a push of 'micdata', not subscribed" in bridge.output
    assert bridge.returncode is None and 'Traceback' not in bridge.output


def test_every_module_is_subscribed_again_after_a_reconnection(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    port = free_port()
    intents = ros.subscribe(String, '/wv_re/webviz/intents')
    procs('webviz_bridge', namespace='/wv_re', params={
        'port': port, 'modules': ['intents'], 'reconnect_min_s': 0.1, 'reconnect_max_s': 0.3})
    ros.wait_publishers('/wv_re/webviz/intents')
    for run in range(2):
        sim, _ = start_sim(procs, port)
        decoded(intents, run + 1)  # a snapshot on every (re)subscription
        sim.stop()
    assert len(intents) >= 2


def test_invalid_modules_fail_configure(procs: Callable[..., Proc], ros: ProbeNode) -> None:
    # Without autostart the node stays up, unconfigured, for a lifecycle manager to retry.
    # No namespace given: the node's default namespace is /victor.
    bridge = procs('webviz_bridge', params={'modules': ['intents', 'Intents'],
                                            'autostart': False})
    assert not ros.lifecycle('/victor/webviz_bridge', Transition.TRANSITION_CONFIGURE)
    bridge.wait_output('configure failed: module name .Intents. is not lower-case', 15)
    assert ros.lifecycle_state('/victor/webviz_bridge') == 'unconfigured'
    time.sleep(0.5)
    assert bridge.returncode is None and 'Traceback' not in bridge.output
    # With autostart, the process ends with a non-zero code after the one-line reason.
    started = procs('webviz_bridge', namespace='/wv_mod',
                    params={'modules': ['intents', 'Intents']})
    assert started.wait_exit(20) == 1 and 'Traceback' not in started.output


def test_invalid_connection_parameters_fail_configure(procs: Callable[..., Proc]) -> None:
    bridge = procs('webviz_bridge', namespace='/wv_path', params={'path': 'socket'})
    bridge.wait_output('configure failed: path must start with /', 15)
    mic = procs('victor_mic_bridge', namespace='/wv_path', params={'host': 'a/b'})
    mic.wait_output("configure failed: invalid host 'a/b'", 15)
