"""The main job's port plan: fixed ports checked, auto ports learned from what listeners print."""

from __future__ import annotations

import socket

import pytest
from robot_bridges.tools.main_job_processes import PROCESSES
from robot_bridges.tools.port_plan import (CLIENTS, Endpoint, Listener, LISTENERS,
                                           parse_bridge_parameters, parse_listening, PortPlan,
                                           PortPlanError, taken_ports)

# What each listener prints, as the main job relays it (label, then the line).
LINES = {
    'chat-server': 'robot_chat_server: listening on ws://127.0.0.1:40001',
    'victor-anim-sim': 'victor_sim: listening on ws://127.0.0.1:40002/socket',
    'victor-engine-sim': 'victor_sim: listening on ws://127.0.0.1:40003/socket',
    'reachy-bridge': '[INFO] [1796603404.45] [reachy.reachy_bridge]: listening on '
                     'ws://127.0.0.1:40004',
    'dfx-sim': 'dfx_sim: listening on ws://127.0.0.1:40005',
    'letsrobot-sim': 'letsrobot_sim: bridge parameters: -p info_server:=http://127.0.0.1:40006 '
                     '-p api_server:=http://127.0.0.1:40006 -p app_server:=http://127.0.0.1:40009'
                     ' -p user_server:=http://127.0.0.1:40010 -p relay_scheme:=http (and the '
                     'stream_key given with --stream-key)',
}


def test_every_process_of_the_main_job_is_planned_and_every_planned_one_exists() -> None:
    labels = {label for label, _, _ in PROCESSES}
    assert set(LISTENERS) | set(CLIENTS) == labels
    assert {server for server, _ in CLIENTS.values()} == set(LISTENERS)


def test_listening_lines_give_the_port_and_url() -> None:
    assert parse_listening(LINES['victor-anim-sim']) == Endpoint(40002, 'ws://127.0.0.1:40002')
    assert parse_listening(LINES['reachy-bridge']) == Endpoint(40004, 'ws://127.0.0.1:40004')
    assert parse_listening('victor_sim: sent 818 micdata pushes') is None
    endpoint = parse_bridge_parameters(LINES['letsrobot-sim'])
    assert endpoint is not None and endpoint.port == 40006
    assert endpoint.parameters['app_server'] == 'http://127.0.0.1:40009'
    assert parse_bridge_parameters('letsrobot_sim: listening on http://127.0.0.1:40006') is None


def test_fixed_ports_are_the_readmes() -> None:
    plan = PortPlan(auto=False)
    assert plan.arguments('chat-server', lambda _: True) == ('--port', '5001')
    assert plan.arguments('reachy-bridge', lambda _: True) == ('--ros-args', '-p', 'port:=6171')
    assert plan.arguments('dfx-bridge', lambda _: True) == (
        '--ros-args', '-p', 'url:=ws://127.0.0.1:9080')
    assert plan.arguments('reachy-sim', lambda _: True) == ('--url', 'ws://127.0.0.1:6171')
    letsrobot = ' '.join(plan.arguments('letsrobot-bridge', lambda _: True))
    assert 'app_server:=http://127.0.0.1:8103' in letsrobot
    assert 'user_server:=http://127.0.0.1:8104' in letsrobot
    assert plan.arguments('not-a-process', lambda _: True) == ()


def test_auto_ports_bind_zero_and_clients_get_what_the_listener_printed() -> None:
    plan = PortPlan(auto=True)
    shown: list[str] = []
    for label, line in LINES.items():
        assert plan.arguments(label, lambda _: True)[-1].endswith('0')
        plan.watch(label, shown.append)(f'{label:>17} | {line}')
    assert len(shown) == len(LINES)  # passed on unchanged
    assert plan.arguments('chat-peer', lambda _: True) == ('--url', 'ws://127.0.0.1:40001')
    assert plan.arguments('webviz-bridge', lambda _: True) == (
        '--ros-args', '-p', 'port:=40003')
    assert plan.arguments('reachy-sim', lambda _: True) == ('--url', 'ws://127.0.0.1:40004')
    assert 'app_server:=http://127.0.0.1:40009' in plan.arguments('letsrobot-bridge',
                                                                  lambda _: True)


def test_a_client_of_a_listener_that_exited_is_not_started() -> None:
    plan = PortPlan(auto=True)
    with pytest.raises(PortPlanError, match='dfx-sim exited before it said where it listens'):
        plan.arguments('dfx-bridge', lambda server: False)


def test_a_taken_fixed_port_is_reported_with_who_wanted_it_and_who_holds_it() -> None:
    with socket.socket() as held:
        held.bind(('127.0.0.1', 0))
        held.listen()
        port = held.getsockname()[1]
        listener = Listener('dfx-sim', 'the DFX API simulator', Endpoint(port, ''), (port,))
        [line] = taken_ports({'dfx-sim': listener})
    assert line.startswith(f'port {port} is taken (dfx-sim, the DFX API simulator'), line
    assert 'held by ' in line and 'pid ' in line, line
    assert taken_ports({'dfx-sim': listener}) == []
