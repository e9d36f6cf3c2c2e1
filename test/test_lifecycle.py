"""Lifecycle of a bridge driven through its lifecycle services by a client process."""

from __future__ import annotations

import json
import time
from typing import Callable

from chat_fixtures import start_server
from lifecycle_msgs.msg import Transition
from robot_bridges.msg import RobotChatMessage
from ros_helpers import Diagnostics, ProbeNode, Proc, wait_for
from std_msgs.msg import Bool
from websockets.sync.client import ClientConnection, connect

NODE = '/chat_lc/robot_chat_bridge'


def users(peer: ClientConnection, count: int) -> None:
    deadline = time.monotonic() + 10
    while json.loads(peer.recv(timeout=max(0.01, deadline - time.monotonic()))) != {
            'type': 'users', 'count': count}:
        pass


def test_configure_activate_deactivate_activate_cleanup(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    _, url = start_server(procs)
    connected = ros.subscribe_latched(Bool, '/chat_lc/connected')
    inbox = ros.subscribe(RobotChatMessage, '/chat_lc/inbox')
    diagnostics = Diagnostics(ros)
    bridge = procs('robot_chat_bridge', namespace='/chat_lc',
                   params={'url': url, 'autostart': False})

    with connect(url) as peer:
        users(peer, 1)
        assert ros.lifecycle_state(NODE) == 'unconfigured'
        wait_for(lambda: connected.messages, 10, 'initial connected')
        assert connected.last.data is False

        assert ros.lifecycle(NODE, Transition.TRANSITION_CONFIGURE)
        assert ros.lifecycle_state(NODE) == 'inactive'
        assert not connected.last.data  # configured, not yet talking

        assert ros.lifecycle(NODE, Transition.TRANSITION_ACTIVATE)
        users(peer, 2)
        wait_for(lambda: connected.last.data, 10, 'connected after activate')
        ros.wait_publishers('/chat_lc/inbox')
        outbox = ros.publisher(RobotChatMessage, '/chat_lc/outbox')
        peer.send('{"type": "m", "n": 1}')
        inbox.wait_count(1)
        outbox.publish(RobotChatMessage(json='{"n": "out 1"}'))
        assert json.loads(peer.recv(timeout=5)) == {'n': 'out 1'}

        assert ros.lifecycle(NODE, Transition.TRANSITION_DEACTIVATE)
        users(peer, 1)  # the bridge closed its socket
        wait_for(lambda: not connected.last.data, 10, 'disconnected after deactivate')
        peer.send('{"type": "m", "n": 2}')  # relay drops it: nobody else is there
        outbox.publish(RobotChatMessage(json='{"n": "while inactive"}'))
        diagnostics.wait(NODE, lambda v: v['dropped'] == '1' and
                         v['lifecycle_state'] == 'inactive')

        assert ros.lifecycle(NODE, Transition.TRANSITION_ACTIVATE)
        users(peer, 2)
        peer.send('{"type": "m", "n": 3}')
        assert [json.loads(m.json)['n'] for m in inbox.wait_count(2)] == [1, 3]
        outbox.publish(RobotChatMessage(json='{"n": "out 2"}'))
        assert json.loads(peer.recv(timeout=5)) == {'n': 'out 2'}

        assert ros.lifecycle(NODE, Transition.TRANSITION_DEACTIVATE)
        users(peer, 1)
        assert ros.lifecycle(NODE, Transition.TRANSITION_CLEANUP)
        assert ros.lifecycle_state(NODE) == 'unconfigured'
        wait_for(lambda: ros.node.count_publishers('/chat_lc/inbox') == 0 and
                 ros.node.count_publishers('/chat_lc/connected_users') == 0 and
                 ros.node.count_subscribers('/chat_lc/outbox') == 0, 10,
                 'inbox, connected_users and outbox destroyed by cleanup')

        # Configured again from scratch, it works as before, with one outbox subscription.
        assert ros.lifecycle(NODE, Transition.TRANSITION_CONFIGURE)
        assert ros.lifecycle(NODE, Transition.TRANSITION_ACTIVATE)
        users(peer, 2)
        assert ros.node.count_subscribers('/chat_lc/outbox') == 1
        ros.wait_publishers('/chat_lc/inbox')
        outbox.publish(RobotChatMessage(json='{"n": "out 3"}'))
        assert json.loads(peer.recv(timeout=5)) == {'n': 'out 3'}
        peer.send('{"type": "m", "n": 4}')
        inbox.wait_count(3)

    assert [json.loads(m.json)['n'] for m in inbox.messages] == [1, 3, 4]
    assert bridge.returncode is None
    assert 'Traceback' not in bridge.output


def test_invalid_parameters_fail_configure(procs: Callable[..., Proc], ros: ProbeNode) -> None:
    bridge = procs('robot_chat_bridge', namespace='/chat_badcfg',
                   params={'url': 'http://not-a-websocket', 'autostart': False})
    node = '/chat_badcfg/robot_chat_bridge'
    assert not ros.lifecycle(node, Transition.TRANSITION_CONFIGURE)
    assert ros.lifecycle_state(node) == 'unconfigured'
    bridge.wait_output(r"invalid websocket url 'http://not-a-websocket': scheme isn't ws or wss")
