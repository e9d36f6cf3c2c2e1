"""
Secrets, across all bridges: none reaches a process's output, /rosout or /diagnostics.

One test runs every bridge that takes a secret with one configured (Robot Chat: URL password
and query token; DFX: bearer token, the right one and a wrong one; LetsRobot: stream key,
used by ffmpeg in the relay URL), drives a connect failure, a bad input and a reconnect for
each, then searches everything the processes (simulators included) printed and every
/rosout and /diagnostics message for each secret and for the Basic credentials the
websocket client derives from the URL. The webViz bridges have no secret (the robot has no
authentication): credentials written into their host must not be echoed either.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray
from letsrobot_helpers import (bridge_params, CAMERA_ID, ROBOT_ID, start_sim as start_lr_sim,
                               STREAM_KEY)
import pytest
from rcl_interfaces.msg import Log
from robot_bridges.srv import DfxSubscribeResults
from ros_helpers import (Diagnostics, free_port, ProbeNode, Proc, start_listening, wait_for)
from websockets.sync.client import connect

FAST = {'reconnect_min_s': 0.1, 'reconnect_max_s': 0.5}
TIMEOUT_S = 40.0


def texts_of_rosout(msg: Log) -> str:
    """Every text field of a /rosout message."""
    return ' '.join((msg.name, msg.msg, msg.file, msg.function))


def texts_of_diagnostics(msg: DiagnosticArray) -> str:
    """Every text field of a /diagnostics message."""
    return ' '.join(part for status in msg.status for part in (
        status.name, status.message, status.hardware_id,
        *(f'{kv.key}={kv.value}' for kv in status.values)))


def leaks(secret_values: dict[str, str], sources: dict[str, str]) -> list[str]:
    """Return 'secret in source' for every secret found in a source's text."""
    return [f'{name} in {source}' for source, text in sources.items()
            for name, value in secret_values.items() if value in text]


def counter(diagnostics: Diagnostics, node: str, key: str, at_least: int = 1) -> None:
    """Wait until ``node``'s diagnostics count ``key`` at least ``at_least`` times."""
    diagnostics.wait(node, lambda v: int(v.get(key, '0')) >= at_least, TIMEOUT_S)


def connected(diagnostics: Diagnostics, node: str) -> None:
    """Wait until ``node`` says it is connected."""
    diagnostics.wait(node, lambda v: v.get('connected') == 'true', TIMEOUT_S)


@pytest.mark.timeout(280)
def test_no_secret_leaks_from_any_bridge(ros: ProbeNode, procs: Callable[..., Proc],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Connect failure, bad input and reconnect of each bridge; then grep every output."""
    ns = f'/secrets_{secrets.token_hex(4)}'
    chat_password = f'pw-{secrets.token_hex(8)}'
    chat_token = f'tok-{secrets.token_hex(8)}'
    dfx_token = f'dfx-{secrets.token_hex(8)}'
    wrong_dfx_token = f'wrong-{secrets.token_hex(8)}'
    webviz_password = f'vpw-{secrets.token_hex(8)}'
    webviz_token = f'vtok-{secrets.token_hex(8)}'
    secret_values = {
        'chat password': chat_password, 'chat token': chat_token,
        'chat Basic credentials': base64.b64encode(f'soak:{chat_password}'.encode()).decode(),
        'DFX token': dfx_token, 'wrong DFX token': wrong_dfx_token,
        'LetsRobot stream key': STREAM_KEY, 'webViz password': webviz_password,
        'webViz query token': webviz_token,
    }
    # Environment variables, as the README recommends: never on a command line.
    monkeypatch.setenv('DFX_TOKEN', dfx_token)
    monkeypatch.setenv('LETSROBOT_STREAM_KEY', STREAM_KEY)
    diagnostics = Diagnostics(ros)
    rosout = ros.subscribe(Log, '/rosout')
    diagnostic_arrays = ros.subscribe(DiagnosticArray, '/diagnostics')  # a second reader
    started: list[Proc] = []

    def start(name: str, *args: str, **kwargs: Any) -> Proc:
        started.append(procs(name, *args, **kwargs))
        return started[-1]

    # Connect failures first: every client bridge starts before its service listens.
    chat_port, dfx_port = free_port(), free_port()
    chat_node, dfx_node = f'{ns}/robot_chat/robot_chat_bridge', f'{ns}/dfx/dfx_bridge'
    chat = start('robot_chat_bridge', namespace=f'{ns}/robot_chat', params={
        'url': f'ws://soak:{chat_password}@127.0.0.1:{chat_port}/room?token={chat_token}',
        **FAST})
    dfx = start('dfx_bridge', namespace=f'{ns}/dfx',
                params={'url': f'ws://127.0.0.1:{dfx_port}', **FAST})
    start('dfx_bridge', namespace=f'{ns}/dfx_wrong', params={
        'url': f'ws://127.0.0.1:{dfx_port}', 'token': wrong_dfx_token, **FAST})
    lr_sim, control, lr_params = start_lr_sim(procs, '--discovery-fault', 'control:status')
    started.append(lr_sim)
    lr_node = f'{ns}/letsrobot/letsrobot_bridge'
    lr_bridge_params = {key: value for key, value in bridge_params(
        lr_params, camera_id=CAMERA_ID, video_source='test').items() if key != 'stream_key'}
    start('letsrobot_bridge', namespace=f'{ns}/letsrobot', params=lr_bridge_params)
    # webViz: credentials in the host, a token in the path are refused (configure fails,
    # the process exits 1).
    victor = start('victor_mic_bridge', namespace=f'{ns}/victor',
                   params={'host': f'soak:{webviz_password}@127.0.0.1', 'port': 1})
    webviz = start('webviz_bridge', namespace=f'{ns}/victor',
                   params={'port': 1, 'path': f'/socket?token={webviz_token}'})
    chat.wait_output(r'connect to .* failed', TIMEOUT_S)
    dfx.wait_output(r'connect to .* failed', TIMEOUT_S)
    lr_sim_state = wait_for(lambda: control.state()['requests']['control'] >= 1, TIMEOUT_S,
                            'the LetsRobot bridge to meet the failing discovery')
    assert lr_sim_state
    assert victor.wait_exit(TIMEOUT_S) == 1
    assert webviz.wait_exit(TIMEOUT_S) == 1
    assert 'configure failed' in victor.output and 'configure failed' in webviz.output

    # The services come up: each bridge connects.
    chat_server, chat_url = start_listening(start, 'robot_chat_server', chat_port)
    dfx_sim, _ = start_listening(start, 'dfx_sim', dfx_port, '--chaos', 'malformed')
    control.fault('control', 'none')
    for node in (chat_node, dfx_node, lr_node):
        connected(diagnostics, node)

    # Bad input for each.
    with connect(chat_url, open_timeout=10) as peer:
        peer.send('{"type": "message", "text": "unterminated')
        counter(diagnostics, chat_node, 'decode_errors')
    response = ros.call(DfxSubscribeResults, f'{ns}/dfx/subscribe_results',
                        DfxSubscribeResults.Request(measurement_id='secrets-1'), TIMEOUT_S)
    assert response.success, response.message
    counter(diagnostics, dfx_node, 'decode_errors')
    control.emit('control', 'command_to_robot', {'robot_id': ROBOT_ID, 'command': 5})
    counter(diagnostics, lr_node, 'decode_errors')
    # The stream runs: ffmpeg's relay URL holds the stream key.
    wait_for(lambda: (control.relay('video') or {}).get('packets', 0) > 0, TIMEOUT_S,
             'video at the relay')

    # Reconnects: the services die without a word and come back on the same ports.
    chat_server.kill()
    dfx_sim.kill()
    control.drop('control')
    start_listening(start, 'robot_chat_server', chat_port)
    start_listening(start, 'dfx_sim', dfx_port)
    for node in (chat_node, dfx_node, lr_node):
        counter(diagnostics, node, 'reconnects')
        connected(diagnostics, node)
    wrong = f'{ns}/dfx_wrong/dfx_bridge'
    diagnostics.wait(wrong, lambda v: v.get('connected') == 'false' and v.get('last_error'),
                     TIMEOUT_S)

    time.sleep(1.5)  # one more diagnostics period, then every process's last words
    for proc in reversed(started):
        proc.stop()
    sources = {f'output of {proc.name} #{n}': proc.output for n, proc in enumerate(started)}
    sources['/rosout'] = '\n'.join(texts_of_rosout(m) for m in list(rosout.messages))
    sources['/diagnostics'] = '\n'.join(texts_of_diagnostics(m)
                                        for m in list(diagnostic_arrays.messages))
    # The search covers what happened: each bridge's failures are in what is searched.
    assert 'failed' in chat.output and 'failed' in dfx.output
    for name in ('robot_chat_bridge', 'dfx_bridge', 'letsrobot_bridge'):
        assert name in sources['/rosout'], f'no /rosout line of {name}'
    for node in (chat_node, dfx_node, lr_node, wrong):
        assert node in sources['/diagnostics'], f'no diagnostics of {node}'
    assert leaks(secret_values, sources) == []
