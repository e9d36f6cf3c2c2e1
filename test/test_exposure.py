"""
Exposure: every TCP socket the package listens on binds loopback unless asked otherwise.

Proven from /proc, not from what a program prints: a process's sockets are the
``socket:[inode]`` links under ``/proc/<pid>/fd``, and ``/proc/<pid>/net/tcp`` and ``tcp6``
give each inode's state and local address. (DDS is not the package's: users keep it on the
host with ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``, the suite with a loopback profile.)
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
import socket
from typing import Any, Callable

from letsrobot_helpers import bridge_params, CAMERA_ID, ffmpeg_children, start_sim
import pytest
from ros_helpers import free_port, Proc, wait_for

LISTEN = '0A'
LOOPBACK = {'127.0.0.1', '::1'}
TIMEOUT_S = 30.0


def _address(hex_address: str) -> str:
    """Decode /proc/net/tcp's local address (host byte order words) without the port."""
    host = hex_address.split(':')[0]
    raw = bytes.fromhex(host)
    # Each 32-bit word is in the kernel's (little-endian here) byte order.
    packed = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def listening(pid: int) -> set[tuple[str, int]]:
    """Return the (address, port) of every TCP socket ``pid`` listens on."""
    inodes = set()
    for fd in Path(f'/proc/{pid}/fd').iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith('socket:['):
            inodes.add(target[len('socket:['):-1])
    found = set()
    for table in ('tcp', 'tcp6'):
        lines = Path(f'/proc/{pid}/net/{table}').read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == LISTEN and inode in inodes:
                found.add((_address(local), int(local.rsplit(':', 1)[1], 16)))
    return found


def wait_listening(proc: Proc, count: int) -> set[tuple[str, int]]:
    """Wait until ``proc`` listens on at least ``count`` sockets; return them."""
    def enough() -> set[tuple[str, int]] | None:
        sockets = listening(proc.pid)
        return sockets if len(sockets) >= count else None
    return wait_for(enough, TIMEOUT_S, f'{proc.name} to listen on {count} socket(s)')


# name -> (argv before the host choice, sockets it opens, how to ask for a host)
SERVERS: dict[str, tuple[tuple[str, ...], int, Callable[[str], dict[str, Any]]]] = {
    'robot_chat_server': (('--port', '0'), 1, lambda host: {'args': ('--host', host)}),
    'victor_sim': (('--port', '0'), 1, lambda host: {'args': ('--host', host)}),
    'dfx_sim': (('--port', '0', '--token', 'exposure-token'), 1,
                lambda host: {'args': ('--host', host)}),
    'letsrobot_sim': (('--port', '0', '--quiet-audience'), 7,
                      lambda host: {'args': ('--host', host)}),
    'reachy_bridge': ((), 1, lambda host: {'params': {'host': host}}),
}


def start_server(procs: Callable[..., Proc], name: str, host: str | None) -> Proc:
    """Start one listening program, with its default host or the one asked for."""
    args, _, ask = SERVERS[name]
    asked = ask(host) if host is not None else {}
    if name == 'reachy_bridge':  # a ROS node: parameters, not options
        return procs(name, params={'port': free_port(), **asked.get('params', {})},
                     namespace='/exposure')
    return procs(name, *args, *asked.get('args', ()))


@pytest.mark.parametrize('name', sorted(SERVERS))
def test_listens_on_loopback_by_default(procs: Callable[..., Proc], name: str) -> None:
    """Started plainly, every socket the program listens on is 127.0.0.1 or ::1."""
    proc = start_server(procs, name, None)
    sockets = wait_listening(proc, SERVERS[name][1])
    assert len(sockets) == SERVERS[name][1], sockets
    assert {address for address, _ in sockets} <= LOOPBACK, sockets


@pytest.mark.parametrize('name', sorted(SERVERS))
def test_another_bind_address_when_asked(procs: Callable[..., Proc], name: str) -> None:
    """Asked for every interface, the program binds the wildcard address and nothing else."""
    proc = start_server(procs, name, '0.0.0.0')
    sockets = wait_listening(proc, SERVERS[name][1])
    assert {address for address, _ in sockets} == {'0.0.0.0'}, sockets
    # And a client reaches it (on loopback: this machine has no other address to try).
    port = next(iter(sockets))[1]
    with socket.create_connection(('127.0.0.1', port), timeout=5):
        pass


def test_client_bridges_listen_on_nothing(procs: Callable[..., Proc]) -> None:
    """The bridges that dial out (and their ffmpeg children) open no listening socket."""
    chat_server = procs('robot_chat_server', '--port', '0')
    chat_url = chat_server.wait_output(r'listening on (ws://\S+)', TIMEOUT_S).group(1)
    victor = procs('victor_sim', '--port', '0')
    victor_port = victor.wait_output(r'listening on ws://[^:]+:(\d+)', TIMEOUT_S).group(1)
    dfx = procs('dfx_sim', '--port', '0', '--token', 'exposure-token')
    dfx_url = dfx.wait_output(r'listening on (ws://\S+)', TIMEOUT_S).group(1)
    _, _, lr_params = start_sim(procs)
    bridges = [
        procs('robot_chat_bridge', params={'url': chat_url}, namespace='/exposure'),
        procs('victor_mic_bridge', params={'port': int(victor_port)}, namespace='/exposure'),
        procs('webviz_bridge', params={'port': int(victor_port)}, namespace='/exposure'),
        procs('dfx_bridge', params={'url': dfx_url, 'token': 'exposure-token'},
              namespace='/exposure'),
        procs('letsrobot_bridge', params=bridge_params(lr_params, camera_id=CAMERA_ID,
                                                       video_source='test'),
              namespace='/exposure'),
    ]
    for bridge in bridges:
        bridge.wait_output(r'connected to ', TIMEOUT_S)
    letsrobot = bridges[-1]
    streamers = wait_for(lambda: ffmpeg_children(letsrobot.pid), TIMEOUT_S, 'ffmpeg')
    for pid in [bridge.pid for bridge in bridges] + streamers:
        assert listening(pid) == set(), f'process {pid} listens'
