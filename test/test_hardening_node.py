"""
Node-side hardening, each against a real bridge process (issue: hostile peers, careless users).

What a ROS user sends cannot end a bridge; a failed configure is visible and, under
autostart, ends the process with a non-zero code; cleanup counts what it throws away; a
clean shutdown logs no error; published JSON is strict.
"""

from __future__ import annotations

import json
import signal
from typing import Callable

from chat_fixtures import start_server
from diagnostic_msgs.msg import DiagnosticStatus
from lifecycle_msgs.msg import Transition
from robot_bridges.msg import RobotChatMessage
from ros_helpers import Diagnostics, free_port, ProbeNode, Proc, wait_for
from sim_helpers import sim_thread_fixture, SimThread, start_sim  # noqa: F401 - a fixture
from std_msgs.msg import String
from websockets.sync.client import connect

DEEP = '{"a": ' + '[' * 5000 + ']' * 5000 + '}'


def test_deeply_nested_ros_messages_are_rejected_and_the_bridges_keep_working(
        procs: Callable[..., Proc], ros: ProbeNode,
        sim_thread: Callable[..., SimThread]) -> None:
    _, url = start_server(procs)
    chat = procs('robot_chat_bridge', namespace='/hard_in', params={'url': url})
    server = sim_thread(autoplay=False)
    webviz = procs('webviz_bridge', namespace='/hard_in',
                   params={'port': server.sim.port, 'modules': ['intents']})
    diagnostics = Diagnostics(ros)
    with connect(url) as peer:
        outbox = ros.publisher(RobotChatMessage, '/hard_in/outbox')
        request = ros.publisher(String, '/hard_in/webviz/intents/request')
        server.run(server.sim.wait_for_subscribers('intents', timeout=15))
        for depth in (1000, 5000):
            nested = '{"a": ' + '[' * depth + ']' * depth + '}'
            outbox.publish(RobotChatMessage(json=nested))
            request.publish(String(data=nested))
        outbox.publish(RobotChatMessage(json='{"type": "m", "after": true}'))
        # The relay forwards only what the bridge sent: the valid message, nothing before it.
        frame = json.loads(peer.recv(timeout=15))
        while frame.get('type') == 'users':
            frame = json.loads(peer.recv(timeout=15))
        assert frame == {'type': 'm', 'after': True}
    diagnostics.wait('/hard_in/robot_chat_bridge', lambda v: v['decode_errors'] == '2')
    diagnostics.wait('/hard_in/webviz_bridge', lambda v: v['decode_errors'] == '2')
    assert chat.returncode is None and webviz.returncode is None
    for bridge in (chat, webviz):
        assert 'Traceback' not in bridge.output and 'RecursionError' not in bridge.output
    assert 'nested too deeply' in chat.output and 'nested too deeply' in webviz.output
    assert max(len(line) for line in chat.output.splitlines()) < 500


def test_a_failed_configure_is_an_error_and_ends_an_autostarted_process(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    diagnostics = Diagnostics(ros)
    waiting = procs('robot_chat_bridge', namespace='/hard_cfg',
                    params={'url': 'notaurl', 'autostart': False})
    assert not ros.lifecycle('/hard_cfg/robot_chat_bridge', Transition.TRANSITION_CONFIGURE)
    values = diagnostics.wait('/hard_cfg/robot_chat_bridge',
                              lambda v: v['last_error'].startswith('configure failed'))
    assert 'invalid websocket url' in values['_message']
    status = next(s for a in reversed(diagnostics._collector.messages)  # noqa: SLF001
                  for s in a.status if s.name == '/hard_cfg/robot_chat_bridge')
    assert status.level == DiagnosticStatus.ERROR
    assert waiting.returncode is None  # a lifecycle manager may retry

    autostarted = procs('robot_chat_bridge', namespace='/hard_cfg2', params={'url': 'notaurl'})
    assert autostarted.wait_exit(20) == 1
    errors = [line for line in autostarted.output.splitlines() if '[ERROR]' in line]
    assert len(errors) == 1 and "invalid websocket url 'notaurl'" in errors[0], errors


def test_cleanup_counts_and_logs_the_frames_it_drops(procs: Callable[..., Proc],
                                                     ros: ProbeNode) -> None:
    node = '/hard_clean/robot_chat_bridge'
    diagnostics = Diagnostics(ros)
    bridge = procs('robot_chat_bridge', namespace='/hard_clean', params={
        'url': f'ws://127.0.0.1:{free_port()}', 'autostart': False})  # nobody listens
    assert ros.lifecycle(node, Transition.TRANSITION_CONFIGURE)
    assert ros.lifecycle(node, Transition.TRANSITION_ACTIVATE)
    outbox = ros.publisher(RobotChatMessage, '/hard_clean/outbox')
    for index in range(10):
        outbox.publish(RobotChatMessage(json=json.dumps({'n': index})))
    diagnostics.wait(node, lambda v: v.get('outbox_queued') == '10')
    assert ros.lifecycle(node, Transition.TRANSITION_DEACTIVATE)
    assert ros.lifecycle(node, Transition.TRANSITION_CLEANUP)
    diagnostics.wait(node, lambda v: v['dropped'] == '10')
    bridge.wait_output(r'cleanup: dropped 10 queued frame\(s\) that were never sent')


def test_a_clean_shutdown_under_traffic_logs_no_error_and_no_reconnect_promise(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    port = free_port()
    start_sim(procs, port, '--rate', '1000')
    for run, sig in enumerate((signal.SIGINT, signal.SIGTERM, signal.SIGINT, signal.SIGTERM)):
        bridge = procs('victor_mic_bridge', namespace=f'/hard_stop{run}', params={'port': port})
        bridge.wait_output('connected to', 20)
        wait_for(lambda: True, 0.3)
        assert bridge.stop(sig, timeout=5) == 0
        assert '[ERROR]' not in bridge.output and 'reconnecting' not in bridge.output, \
            bridge.output


def test_published_json_is_strict(procs: Callable[..., Proc], ros: ProbeNode,
                                  sim_thread: Callable[..., SimThread]) -> None:
    server = sim_thread(autoplay=False)
    vision = ros.subscribe(String, '/hard_json/webviz/vision')
    diagnostics = Diagnostics(ros)
    procs('webviz_bridge', namespace='/hard_json',
          params={'port': server.sim.port, 'modules': ['vision']})
    server.run(server.sim.wait_for_subscribers('vision', timeout=15))
    ros.wait_publishers('/hard_json/webviz/vision')
    server.call(server.sim.send_raw,
                '{"module": "vision", "data": {"x": NaN, "y": [1e400, -Infinity, 2.5]}}')
    message = vision.wait_count(1)[0]
    assert json.loads(message.data, parse_constant=lambda c: c) == {
        'x': None, 'y': [None, None, 2.5]}
    diagnostics.wait('/hard_json/webviz_bridge', lambda v: v['non_finite_nulled'] == '3')
