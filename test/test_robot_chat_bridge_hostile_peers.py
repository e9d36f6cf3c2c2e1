"""robot_chat_bridge (a process) against hostile peers: poison frames, ping floods, stalls."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Callable, Iterator

from chat_fixtures import start_server, wait_users
from hostile_peers import BackgroundLoop, PingFlooder, stalled_server
import pytest
from robot_bridges.msg import RobotChatMessage
from ros_helpers import Diagnostics, ProbeNode, Proc, wait_for
from std_msgs.msg import Bool
from websockets.asyncio.client import connect

NESTED = '{"type":"chat","m":' + '[' * 1000 + ']' * 1000 + '}'
LONE_SURROGATE = '{"type":"\\ud800"}'  # valid JSON text; the string it holds is not UTF-8


def went_down(messages: list[Bool]) -> bool:
    """Return whether ``connected`` was true and then false."""
    states = [m.data for m in messages]
    return True in states and False in states[states.index(True):]


@pytest.fixture
def peers() -> Iterator[BackgroundLoop]:
    """Provide an asyncio loop thread for peers that run beside the blocking test."""
    loop = BackgroundLoop()
    yield loop
    loop.close()


def test_no_frame_ends_the_link(procs: Callable[..., Proc], ros: ProbeNode) -> None:
    _, url = start_server(procs)
    inbox = ros.subscribe(RobotChatMessage, '/chat_poison/inbox')
    diagnostics = Diagnostics(ros)
    bridge = procs('robot_chat_bridge', namespace='/chat_poison', params={'url': url})

    async def scenario() -> None:
        async with connect(url) as peer:
            await wait_users(peer, 2)
            await asyncio.to_thread(ros.wait_publishers, '/chat_poison/inbox')
            for frame in (NESTED, LONE_SURROGATE, NESTED, '{"type": "ok", "n": 1}'):
                await peer.send(frame)
            await asyncio.to_thread(inbox.wait_count, 1)
    asyncio.run(scenario())

    assert [json.loads(m.json) for m in inbox.messages] == [{'type': 'ok', 'n': 1}]
    values = diagnostics.wait('/chat_poison/robot_chat_bridge',
                              lambda v: v['decode_errors'] == '3')
    assert values['connected'] == 'true'
    assert values['link_aborts'] == '0' and values['reconnects'] == '0'
    assert 'link task failed' not in bridge.output and 'Traceback' not in bridge.output
    assert bridge.returncode is None


def test_a_ping_flood_is_aborted_and_redialled_with_memory_bounded(
        procs: Callable[..., Proc], ros: ProbeNode, peers: BackgroundLoop) -> None:
    flooder = peers.run(PingFlooder().start())
    connected = ros.subscribe_latched(Bool, '/chat_flood/connected')
    diagnostics = Diagnostics(ros)
    node = '/chat_flood/robot_chat_bridge'
    bridge = procs('robot_chat_bridge', namespace='/chat_flood', params={
        'url': flooder.url, 'max_send_buffer_bytes': 1 << 20,
        'reconnect_min_s': 0.5, 'reconnect_max_s': 1.0})
    ros.wait_publishers('/chat_flood/connected')  # sees each abort, not only the last state
    wait_for(lambda: flooder.connections >= 1, 20, 'the bridge to connect')
    base = peak = bridge.rss_bytes()
    deadline = time.monotonic() + 60
    while int(diagnostics.values(node).get('link_aborts', '0')) < 3:
        assert time.monotonic() < deadline, f'no third abort: {diagnostics.values(node)}'
        peak = max(peak, bridge.rss_bytes())
        time.sleep(0.05)
    flooded = flooder.sent_bytes
    peers.run(flooder.stop())

    assert flooder.connections >= 3  # redialled after each abort
    assert peak - base < 64 << 20, (f'bridge grew by {(peak - base) >> 20} MiB under a '
                                    f'{flooded >> 20} MiB flood')
    wait_for(lambda: went_down(connected.messages), 20, 'connected true, then false')
    assert 'link aborted: ' in bridge.output and 'over max_send_buffer_bytes' in bridge.output
    assert 'Traceback' not in bridge.output and bridge.returncode is None


def test_a_server_that_stops_reading_while_the_outbox_is_busy_is_found_dead(
        procs: Callable[..., Proc], ros: ProbeNode, peers: BackgroundLoop) -> None:
    server, stalled, url = peers.run(stalled_server())
    connected = ros.subscribe_latched(Bool, '/chat_stall/connected')
    diagnostics = Diagnostics(ros)
    bridge = procs('robot_chat_bridge', namespace='/chat_stall', params={
        'url': url, 'ping_interval_s': 0.5, 'ping_timeout_s': 0.5, 'outbox_queue_size': 1000,
        'reconnect_min_s': 0.5, 'reconnect_max_s': 1.0})
    wait_for(lambda: connected.messages and connected.last.data, 20, 'connected')
    outbox = ros.publisher(RobotChatMessage, '/chat_stall/outbox')
    bulk = json.dumps({'type': 'bulk', 'pad': 'x' * 100_000})
    for _ in range(400):
        outbox.publish(RobotChatMessage(json=bulk))

    # Every connection stalls: each is found dead while frames still wait to be sent.
    diagnostics.wait('/chat_stall/robot_chat_bridge',
                     lambda v: int(v['link_aborts']) >= 2 and int(v['outbox_queued']) > 0,
                     timeout=60)
    wait_for(lambda: went_down(connected.messages), 10, 'connected == false')
    assert len(stalled) >= 2  # redialled

    async def stop() -> None:
        server.close()
        await server.wait_closed()
    peers.run(stop())
    assert 'link aborted: nothing received for ' in bridge.output
    assert 'Traceback' not in bridge.output and bridge.returncode is None
