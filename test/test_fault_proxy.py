"""The fault proxy itself, against a plain echo server: each fault does what it says."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from typing import Iterator

from fault_proxy import FaultProxy
import pytest
from ros_helpers import wait_for


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.server.received += len(data)  # type: ignore[attr-defined]
            try:
                self.request.sendall(data)
            except OSError:
                return


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(('127.0.0.1', 0), _Echo)
        self.received = 0
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def echo_proxy() -> Iterator[tuple[EchoServer, FaultProxy]]:
    server = EchoServer()
    proxy = FaultProxy('127.0.0.1', server.port)
    try:
        yield server, proxy
    finally:
        proxy.close()
        server.shutdown()
        server.server_close()


def dial(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(proxy.address, timeout=5)
    sock.settimeout(5)
    return sock


def receive(sock: socket.socket, count: int) -> bytes:
    data = b''
    while len(data) < count:
        part = sock.recv(count - len(data))
        if not part:
            break
        data += part
    return data


def silent(sock: socket.socket, within: float = 0.3) -> bool:
    """Whether nothing (no byte, no end) arrives ``within`` seconds."""
    sock.settimeout(within)
    try:
        sock.recv(1)
        return False
    except socket.timeout:
        return True
    finally:
        sock.settimeout(5)


def test_pass_through_forwards_both_ways(echo_proxy: tuple[EchoServer, FaultProxy]) -> None:
    _, proxy = echo_proxy
    with dial(proxy) as sock:
        payload = bytes(range(256)) * 400
        sock.sendall(payload)
        assert receive(sock, len(payload)) == payload
    assert proxy.accepted == 1
    wait_for(lambda: proxy.forwarded == {'up': len(payload), 'down': len(payload)}, 5,
             'the byte counts')


def test_blackhole_accepts_but_never_answers_until_passed(
        echo_proxy: tuple[EchoServer, FaultProxy]) -> None:
    server, proxy = echo_proxy
    proxy.blackhole()
    with dial(proxy) as sock:  # TCP completes
        sock.sendall(b'GET / HTTP/1.1\r\n\r\n')
        assert silent(sock, 0.5)
        assert server.received == 0
        proxy.pass_through()
        assert receive(sock, 18) == b'GET / HTTP/1.1\r\n\r\n'  # what it held goes on


def test_a_client_that_gives_up_while_blackholed_never_reaches_upstream(
        echo_proxy: tuple[EchoServer, FaultProxy]) -> None:
    server, proxy = echo_proxy
    proxy.blackhole()
    with dial(proxy) as sock:
        sock.sendall(b'hello')
    # Accepted first: before its accept callback ran, no connection is open either.
    wait_for(lambda: proxy.accepted == 1 and proxy.open_connections == 0, 5,
             'the proxy to accept the client and see it leave')
    proxy.pass_through()
    time.sleep(0.2)
    assert server.received == 0


def test_stall_stops_reading_so_the_senders_buffer_fills(
        echo_proxy: tuple[EchoServer, FaultProxy]) -> None:
    server, proxy = echo_proxy
    with dial(proxy) as sock:
        sock.sendall(b'x')
        assert receive(sock, 1) == b'x'
        proxy.stall('up')
        sock.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                sent += sock.send(b'y' * 65536)
            except BlockingIOError:
                break  # our send buffer is full: nobody reads
        else:
            pytest.fail('the send buffer never filled')
        time.sleep(0.2)
        assert server.received == 1, 'bytes were forwarded while stalled'
        proxy.resume()
        sock.setblocking(True)
        sock.settimeout(10)
        assert receive(sock, sent) == b'y' * sent
        wait_for(lambda: server.received == 1 + sent, 5, 'everything upstream')


def test_stall_applies_to_new_connections_too(
        echo_proxy: tuple[EchoServer, FaultProxy]) -> None:
    _, proxy = echo_proxy
    proxy.stall('both')
    with dial(proxy) as sock:
        sock.sendall(b'ping')
        assert silent(sock, 0.5)
        proxy.resume()
        assert receive(sock, 4) == b'ping'


def test_reset_mid_frame_forwards_part_then_resets(
        echo_proxy: tuple[EchoServer, FaultProxy]) -> None:
    _, proxy = echo_proxy
    with dial(proxy) as sock:
        sock.sendall(b'a')
        assert receive(sock, 1) == b'a'
        proxy.reset_mid_frame('down')
        sock.sendall(b'b' * 8000)
        got = b''
        with pytest.raises(ConnectionResetError):
            while True:
                part = sock.recv(65536)
                if not part:
                    pytest.fail('a FIN, not a reset')
                got += part
        assert 0 < len(got) < 8000 and set(got) == {ord('b')}
    assert not proxy.reset_pending()
    with dial(proxy) as sock:  # a one-off: the next connection passes
        sock.sendall(b'c')
        assert receive(sock, 1) == b'c'


def test_cut_resets_every_open_connection(echo_proxy: tuple[EchoServer, FaultProxy]) -> None:
    _, proxy = echo_proxy
    socks = [dial(proxy) for _ in range(3)]
    for sock in socks:
        sock.sendall(b'z')
        assert receive(sock, 1) == b'z'
    assert proxy.cut() == 3
    for sock in socks:
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
        sock.close()
    assert proxy.open_connections == 0


def test_reject_resets_new_connections_until_passed(
        echo_proxy: tuple[EchoServer, FaultProxy]) -> None:
    server, proxy = echo_proxy
    proxy.reject()
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        with dial(proxy) as sock:  # the reset may come before connect() returns
            sock.sendall(b'q')
            sock.recv(1)
    wait_for(lambda: proxy.rejected == 1, 5, 'the rejection counted')
    assert server.received == 0 and server.received == 0
    proxy.pass_through()
    with dial(proxy) as sock:
        sock.sendall(b'q')
        assert receive(sock, 1) == b'q'
