"""letsrobot_bridge end to end: simulator process, bridge process, ROS probe in this process."""

from __future__ import annotations

import time
from typing import Any, Callable

from letsrobot_helpers import (bridge_params, OWNER, ROBOT_ID, SimControl, start_sim)
from robot_bridges.msg import LetsRobotChat, LetsRobotCommand
from ros_helpers import Collector, Diagnostics, free_port, ProbeNode, Proc, wait_for
from std_msgs.msg import Bool, String

NODE = 'letsrobot_bridge'


def command(user: Any, key: str = 'F', position: str = 'down', robot_id: str = ROBOT_ID,
            **extra: Any) -> dict[str, Any]:
    return {'robot_id': robot_id, 'command': key, 'user': user, 'key_position': position,
            **extra}


def chat(name: str, text: str, message_id: str) -> dict[str, Any]:
    return {'name': name, 'message': f'[{name}] {text}', 'robot_id': ROBOT_ID, 'room': 'r',
            'non_global': True, 'username_color': '#F16B74', 'anonymous': False,
            '_id': message_id}


class Bridge:
    """A bridge process against a simulator, with the probe's collectors of its topics."""

    def __init__(self, procs: Callable[..., Proc], ros: ProbeNode, ns: str,
                 sim_params: dict[str, str], **params: Any) -> None:
        self.ns = ns
        self.fqn = f'{ns}/{NODE}'
        self.commands: Collector[LetsRobotCommand] = ros.subscribe(
            LetsRobotCommand, f'{ns}/command')
        self.chat: Collector[LetsRobotChat] = ros.subscribe(LetsRobotChat, f'{ns}/chat')
        self.removed: Collector[String] = ros.subscribe(String, f'{ns}/chat_removed')
        self.exclusive: Collector[String] = ros.subscribe_latched(String, f'{ns}/exclusive_user')
        self.connected: Collector[Bool] = ros.subscribe_latched(Bool, f'{ns}/connected')
        self.diagnostics = Diagnostics(ros)
        self.proc = procs(NODE, namespace=ns, params=bridge_params(sim_params, **params))
        ros.wait_publishers(f'{ns}/command')
        ros.wait_publishers(f'{ns}/chat')

    def values(self, predicate: Callable[[dict[str, str]], bool],
               timeout: float = 20.0) -> dict[str, str]:
        return self.diagnostics.wait(self.fqn, predicate, timeout)

    def wait_connected(self, timeout: float = 20.0) -> None:
        wait_for(lambda: self.connected.messages and self.connected.last.data, timeout,
                 'connected == true')


def send_and_wait(sim: SimControl, bridge: Bridge, payload: dict[str, Any]) -> LetsRobotCommand:
    """Emit a command on the control socket; return it as published."""
    count = len(bridge.commands)
    sim.emit('control', 'command_to_robot', payload)
    bridge.commands.wait_count(count + 1, 15)
    return bridge.commands.messages[count]


def test_commands_chat_exclusive_control_and_counters(procs: Callable[..., Proc],
                                                      ros: ProbeNode) -> None:
    _, sim, sim_params = start_sim(procs)
    bridge = Bridge(procs, ros, '/lr_events', sim_params)
    sim.wait_identified()
    bridge.wait_connected()

    first = send_and_wait(sim, bridge, command('alice', 'F', 'down', anonymous=False))
    assert (first.command, first.user, first.key_position, first.anonymous,
            first.from_owner) == ('F', 'alice', 'down', False, False)
    nested = send_and_wait(sim, bridge, {'robot_id': ROBOT_ID, 'command': 'L',
                                         'user': {'username': 'bob', 'anonymous': True}})
    assert (nested.command, nested.user, nested.key_position, nested.anonymous) == (
        'L', 'bob', '', True)
    owner = send_and_wait(sim, bridge, command(OWNER, 'stop', 'up'))
    assert owner.from_owner and owner.key_position == 'up'
    # The app socket's commands are the video side's (VIDOFF / VIDON), never drive commands.
    sim.emit('app', 'command_to_robot', command('dave', 'B'))
    bridge.values(lambda v: v['app_commands_ignored'] == '1')
    assert len(bridge.commands.messages) == 3

    sim.emit('control', 'command_to_robot', command('alice', robot_id='another-robot'))
    bridge.values(lambda v: v['filtered'] == '1')

    # A non-owner's .exclusive does nothing; the owner's does.
    sim.emit('chat', 'chat_message_with_name', chat('alice', '.exclusive alice', 'm1'))
    bridge.chat.wait_count(1)
    assert bridge.chat.last.is_command and not bridge.chat.last.from_owner
    send_and_wait(sim, bridge, command('carol'))
    sim.emit('chat', 'chat_message_with_name', chat(OWNER, '.exclusive bob', 'm2'))
    wait_for(lambda: bridge.exclusive.messages and bridge.exclusive.last.data == 'bob', 15,
             'exclusive_user bob')
    assert bridge.chat.wait_count(2)[-1].from_owner
    sim.emit('control', 'command_to_robot', command('alice'))
    bridge.values(lambda v: v['excluded'] == '1' and v['exclusive_user'] == 'bob')
    assert send_and_wait(sim, bridge, command('bob', 'R')).user == 'bob'
    assert send_and_wait(sim, bridge, command(OWNER, 'R')).user == OWNER
    sim.emit('chat', 'chat_message_with_name', chat(OWNER, '.exclusive off', 'm3'))
    wait_for(lambda: bridge.exclusive.last.data == '', 15, 'exclusive_user empty')
    assert send_and_wait(sim, bridge, command('alice', 'F')).user == 'alice'

    # The site's exclusive_control does the same.
    sim.emit('app', 'exclusive_control', {'status': 'start', 'robot_id': ROBOT_ID,
                                          'user': 'erin'})
    wait_for(lambda: bridge.exclusive.last.data == 'erin', 15, 'exclusive_user erin')
    sim.emit('control', 'command_to_robot', command('alice'))
    bridge.values(lambda v: v['excluded'] == '2')
    sim.emit('app', 'exclusive_control', {'status': 'end', 'robot_id': ROBOT_ID})
    wait_for(lambda: bridge.exclusive.last.data == '', 15, 'exclusive_user empty')
    assert send_and_wait(sim, bridge, command('alice', 'G')).command == 'G'

    # Chat text, command detection, removal.
    sim.emit('chat', 'chat_message_with_name', chat('frank', ' hi ] there ', 'm4'))
    message = bridge.chat.wait_count(4)[-1]
    assert (message.id, message.name, message.text, message.message) == (
        'm4', 'frank', 'hi ] there', '[frank]  hi ] there ')
    assert not message.is_command and message.non_global and message.room == 'r'
    assert message.username_color == '#F16B74'
    sim.emit('user', 'message_removed', {'message_id': 'm4'})
    assert bridge.removed.wait_count(1)[0].data == 'm4'

    published = [m.user for m in bridge.commands.messages]
    assert 'another-robot' not in published
    assert published.count('alice') == 3  # the first, after .exclusive off, after end
    values = bridge.values(lambda v: v['commands'] == str(len(published)))
    assert (values['filtered'], values['excluded'], values['decode_errors']) == ('1', '2', '0')
    assert values['owner'] == OWNER and bridge.proc.returncode is None


def test_bad_payloads_are_counted_and_nothing_is_published(procs: Callable[..., Proc],
                                                           ros: ProbeNode) -> None:
    _, sim, sim_params = start_sim(procs)
    bridge = Bridge(procs, ros, '/lr_bad', sim_params)
    sim.wait_identified()
    bad = [
        ('control', 'command_to_robot', 'F'),
        ('control', 'command_to_robot', ['F']),
        ('control', 'command_to_robot', None),
        ('control', 'command_to_robot', {'robot_id': ROBOT_ID}),
        ('control', 'command_to_robot', {'robot_id': ROBOT_ID, 'command': 7}),
        ('control', 'command_to_robot', {'robot_id': ROBOT_ID, 'command': 'F',
                                         'key_position': 'sideways'}),
        ('control', 'command_to_robot', {'robot_id': ROBOT_ID, 'command': 'F' * 200_000}),
        ('control', 'command_to_robot', {'robot_id': ROBOT_ID, 'command': 'F', 'user': [1]}),
        ('app', 'command_to_robot', {'robot_id': {'id': 1}, 'command': 'F'}),
        ('chat', 'chat_message_with_name', {'name': 'x'}),
        ('chat', 'chat_message_with_name', {'message': 'y' * 200_000}),
        ('chat', 'chat_message_with_name', {'message': '[a] b', 'anonymous': 'no'}),
        ('chat', 'chat_message_with_name', 12),
        ('app', 'exclusive_control', {'status': 'start', 'robot_id': ROBOT_ID}),
        ('app', 'exclusive_control', 'start'),
        ('user', 'message_removed', {'message_id': None}),
        ('user', 'message_removed', 'm1'),
    ]
    for socket, event, data in bad:
        sim.emit(socket, event, data)
    values = bridge.values(lambda v: v['decode_errors'] == str(len(bad)))
    assert values['last_error']
    # Unknown events, and known ones on the wrong socket, are ignored, not counted.
    sim.emit('control', 'some_new_event', {'x': 1})
    sim.emit('user', 'command_to_robot', command('alice'))
    assert send_and_wait(sim, bridge, command('zoe')).user == 'zoe'
    time.sleep(0.5)
    assert [m.user for m in bridge.commands.messages] == ['zoe']
    assert not bridge.chat.messages and not bridge.removed.messages
    assert bridge.values(lambda v: True)['decode_errors'] == str(len(bad))
    assert bridge.proc.returncode is None and 'Traceback' not in bridge.proc.output


def test_discovery_failures_are_retried_and_reported_then_succeed(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    port = free_port()
    sim_params = {'info_server': f'http://127.0.0.1:{port}',
                  'api_server': f'http://127.0.0.1:{port}',
                  'app_server': f'http://127.0.0.1:{port + 3}',
                  'user_server': f'http://127.0.0.1:{port + 4}', 'relay_scheme': 'http'}
    bridge = Bridge(procs, ros, '/lr_disc', sim_params, camera_id='cam', video_source='test')
    # Unreachable host first.
    values = bridge.values(lambda v: 'cannot connect' in v.get('discovery', ''))
    assert values['_message'].startswith('disconnected') and values['connected'] == 'false'
    faults = [('control', 'status', 'HTTP 503'), ('chat', 'not_json', 'not JSON'),
              ('owner', 'missing', 'owner'), ('settings', 'status', 'robots/4242: HTTP 503'),
              ('relay', 'mistyped', 'host is JSON array'),
              ('video_port', 'port_range', 'out of range')]
    _, sim, _ = start_sim(procs, '--discovery-fault', 'control:status', port=port)
    # Each fault kind on some route, one after the other, each reported while it lasts.
    for (route, _, seen), following in zip(faults, faults[1:] + [None]):
        bridge.values(lambda v: seen in v['discovery'], 30)
        if following is not None:
            sim.fault(following[0], following[1])
        sim.fault(route, 'none')
    sim.port_shape('port')  # {"port": N} instead of {"mpeg_stream_port": N}
    bridge.values(lambda v: v['discovery'] == 'done', 30)
    bridge.wait_connected()
    wait_for(lambda: (sim.relay('video') or {}).get('packets', 0) > 0, 20, 'video at the relay')
    values = bridge.values(lambda v: True)
    assert int(values['discovery_failures']) >= 6
    assert bridge.proc.returncode is None and 'Traceback' not in bridge.proc.output


def test_every_socket_reconnects_and_reidentifies(procs: Callable[..., Proc],
                                                  ros: ProbeNode) -> None:
    port = free_port()
    sim_proc, sim, sim_params = start_sim(procs, port=port)
    bridge = Bridge(procs, ros, '/lr_reco', sim_params, identify_period_s=1.0)
    sim.wait_identified()
    # The periodic re-identification, without any reconnect.
    before = sim.identifications()
    wait_for(lambda: all(sim.identifications()[s] >= before[s] + 2
                         for s in ('control', 'chat', 'app')), 15, 'periodic identify')
    assert all(s['connects'] == 1 for s in sim.state()['sockets'].values())

    # The server ends each session on purpose: each socket comes back by itself.
    for name in ('control', 'chat', 'app', 'user'):
        connects = sim.state()['sockets'][name]['connects']
        assert sim.drop(name) == 1
        wait_for(lambda: sim.state()['sockets'][name]['connects'] == connects + 1 and
                 sim.state()['sockets'][name]['connected'] == 1, 20, f'{name} back')
    sim.wait_identified()
    values = bridge.values(lambda v: all(v[f'reconnects_{s}'] == '1'
                                         for s in ('control', 'chat', 'app', 'user')))
    assert all(values[f'socket_{s}'] == 'up' for s in ('control', 'chat', 'app', 'user'))
    assert send_and_wait(sim, bridge, command('after_drop')).user == 'after_drop'

    # The whole simulator restarts on the same ports.
    sim_proc.kill()
    wait_for(lambda: not bridge.connected.last.data, 20, 'connected == false')
    _, sim, _ = start_sim(procs, port=port)
    sim.wait_identified(timeout=30)
    bridge.wait_connected()
    assert send_and_wait(sim, bridge, command('after_restart')).user == 'after_restart'
    values = bridge.values(lambda v: int(v['reconnects']) >= 2)
    assert bridge.proc.returncode is None and 'Traceback' not in bridge.proc.output


def test_an_empty_robot_id_fails_configure_clearly(procs: Callable[..., Proc]) -> None:
    bridge = procs(NODE, namespace='/lr_cfg', params={'camera_id': 'cam'})  # no robot_id
    assert bridge.wait_exit(30) == 1
    assert 'robot_id is empty' in bridge.output and 'Traceback' not in bridge.output


def test_a_moved_control_server_is_followed_at_the_disconnect(procs: Callable[..., Proc],
                                                              ros: ProbeNode) -> None:
    sim_proc, sim, sim_params = start_sim(procs)
    bridge = Bridge(procs, ros, '/lr_move', sim_params)
    sim.wait_identified()
    bridge.wait_connected()
    for name in ('control', 'chat'):
        requests = sim.state()['requests'][name]
        started = time.monotonic()
        port = sim.move(name)
        wait_for(lambda: sim.state()['sockets'][name]['identified'] == 1, 10, f'{name} moved')
        # Discovery is read at the disconnect: the first reconnect goes to the new port.
        assert time.monotonic() - started < 5.0
        assert sim.state()['ports'][name] == port
        assert sim.state()['requests'][name] == requests + 1
    values = bridge.values(lambda v: v['moves_control'] == '1' and v['moves_chat'] == '1')
    assert str(sim.state()['ports']['control']) in values['server_control']
    bridge.wait_connected()
    assert send_and_wait(sim, bridge, command('after_move')).user == 'after_move'
    # The bridge's auto offered Engine.IO 3 on every connect; the refusal is no error line.
    assert values['engineio_protocol_control'] == '4'
    assert values['moderators'] == '1'  # sim_mod, from the owner's account
    assert 'unsupported version' not in sim_proc.output
    assert bridge.proc.returncode is None and 'Traceback' not in bridge.proc.output
