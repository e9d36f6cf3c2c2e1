"""Which program holds a TCP port, from /proc: a real held port, and what /proc can hide."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
from typing import Iterator

import pytest
from robot_bridges.tools.port_owner import (describe_holders, Holder, holders,
                                            listening_sockets, ListeningSocket,
                                            parse_listening, port_is_free)

# /proc/net/tcp as the kernel writes it: 127.0.0.1:5001 listening (0A) and connected (01),
# 0.0.0.0:8888 listening, uid 1000, inodes 4242 / 4343 / 4444.
TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1389 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1389 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 20 4 30 10 -1
   2: 00000000:22B8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4444 1 0000000000000000 100 0 0 10 0
"""  # noqa: E501
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1389 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0
"""  # noqa: E501


def test_only_listening_sockets_on_the_port_count() -> None:
    assert parse_listening(TCP, 5001) == [ListeningSocket(inode=4242, uid=1000)]
    assert parse_listening(TCP, 8888) == [ListeningSocket(inode=4444, uid=1000)]
    assert parse_listening(TCP, 9080) == []
    assert parse_listening(TCP6, 5001) == [ListeningSocket(inode=5151, uid=0)]


@pytest.fixture
def held_port() -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """Yield a port a child process listens on, and the child (a secret option in its argv)."""
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLD, 'port-holder-marker', '--api-token', 'hunter2'],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    port = int(holder.stdout.readline())
    try:
        yield port, holder
    finally:
        holder.kill()
        holder.wait()


HOLD = ('import socket, sys, time\n'
        'server = socket.socket()\n'
        "server.bind(('127.0.0.1', 0))\n"
        'server.listen()\n'
        'print(server.getsockname()[1], flush=True)\n'
        'time.sleep(120)\n')


def test_a_port_held_by_a_child_process_names_the_process(
        held_port: tuple[int, subprocess.Popen[str]]) -> None:
    port, holder = held_port
    assert not port_is_free(port)
    sockets = listening_sockets(port)
    assert len(sockets) == 1 and sockets[0].uid == os.getuid()
    found = holders({sockets[0].inode})
    assert [h.pid for h in found] == [holder.pid]
    text = describe_holders(port)
    assert text.startswith('held by python') and f'(pid {holder.pid}: ' in text, text
    assert 'hunter2' not in text
    shown = found[0].command_line(limit=1000)
    assert shown.endswith('port-holder-marker --api-token ***'), shown


def test_a_port_is_free_again_once_its_holder_has_gone(
        held_port: tuple[int, subprocess.Popen[str]]) -> None:
    port, holder = held_port
    holder.kill()
    holder.wait()
    assert port_is_free(port)
    assert 'cannot be told' in describe_holders(port)


def test_another_users_socket_names_the_user_and_says_the_program_is_unknown(
        tmp_path: Path) -> None:
    (tmp_path / 'net').mkdir()
    (tmp_path / 'net' / 'tcp').write_text(TCP6)  # uid 0 listens on 5001
    (tmp_path / '4321').mkdir()  # a process whose fd/ this user cannot list
    text = describe_holders(5001, proc=tmp_path)
    assert 'user root' in text and 'cannot inspect' in text, text


def test_secret_values_are_hidden_in_either_spelling() -> None:
    holder = Holder(pid=1, comm='x', argv=(
        'x', '--stream-key', 'k1', '--password=p1', '-p', 'token:=t1', '--port', '5001'))
    shown = holder.command_line()
    assert not any(secret in shown for secret in ('k1', 'p1', 't1')), shown
    assert shown.endswith('--port 5001')
