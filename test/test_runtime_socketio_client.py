"""SocketIOClient against a real python-socketio AsyncServer served by aiohttp on 127.0.0.1."""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

from aiohttp import web
from async_helpers import Changing, Recorder, run, stopped
from fault_proxy import FaultProxy
import pytest
from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.socketio_client import (Emit, reconnection_options, SocketIOClient,
                                                   SocketIOClientConfig)
from robot_bridges.runtime.socketio_eio3 import EngineIOClient
import socketio

FAST = Backoff(min_s=0.05, max_s=0.2)
ROBOT_ID = 'robot-42'


class SioServer(Changing):
    """A socket.io 5 server app on aiohttp; records (sid, event, data) of every event."""

    def __init__(self) -> None:
        super().__init__()
        self.sio = socketio.AsyncServer(async_mode='aiohttp', logger=False,
                                        engineio_logger=False)
        app = web.Application()
        self.sio.attach(app)
        self.runner = web.AppRunner(app, shutdown_timeout=0.2)
        self.received: list[tuple[str, str, object]] = []
        self.sids: list[str] = []
        self.disconnected: list[str] = []
        self.sio.on('connect', self._connect)
        self.sio.on('disconnect', self._disconnect)
        self.sio.on('*', self._any)
        self.port = 0

    async def start(self, port: int = 0) -> SioServer:
        await self.runner.setup()
        await web.TCPSite(self.runner, '127.0.0.1', port).start()
        self.port = int(self.runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def events(self, sid: str | None = None) -> list[tuple[str, object]]:
        return [(event, data) for s, event, data in self.received if sid is None or s == sid]

    async def _connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        self.sids.append(sid)
        self._changed.set()

    async def _disconnect(self, sid: str, reason: object = None) -> None:
        self.disconnected.append(sid)
        self._changed.set()

    async def _any(self, event: str, sid: str, *args: object) -> None:
        self.received.append((sid, event, args[0] if len(args) == 1 else args))
        self._changed.set()


def hello() -> Sequence[Emit]:
    return [('robot_id', ROBOT_ID), ('identify_robot_id', ROBOT_ID)]


def client_for(url: str, recorder: Recorder, **config: Any) -> SocketIOClient:
    return SocketIOClient(SocketIOClientConfig(url=url, backoff=FAST, connect_timeout_s=2.0,
                                               **config),
                          recorder, on_event=recorder.on_event, hello=hello)


@pytest.mark.parametrize('transports', [(), ('websocket',)])
def test_identifies_then_sends_queued_emits_in_order(transports: tuple[str, ...]) -> None:
    async def test() -> tuple[list[tuple[str, object]], Recorder]:
        server = await SioServer().start()
        recorder = Recorder()
        client = client_for(server.url, recorder, transports=transports)
        for i in range(3):
            client.emit('send_video_status', {'send_video_process_exists': True, 'n': i})
        task = asyncio.create_task(client.run())
        await server.until(lambda: len(server.received) == 5)
        await recorder.until(lambda: sum(recorder.of('sent')) == 3)
        assert client.connected
        await stopped(client, task)
        await server.until(lambda: bool(server.disconnected))
        await server.stop()
        return server.events(), recorder

    received, recorder = run(test())
    assert received == [('robot_id', ROBOT_ID), ('identify_robot_id', ROBOT_ID)] + [
        ('send_video_status', {'send_video_process_exists': True, 'n': i}) for i in range(3)]
    assert [kind for kind, _ in recorder.events if kind in ('up', 'down')] == ['up', 'down']
    assert not recorder.of('error')


def test_server_events_reach_on_event_on_the_loop() -> None:
    command = {'robot_id': ROBOT_ID, 'command': 'F', 'user': 'name', 'key_position': 'down',
               'anonymous': False}

    async def test() -> list[tuple[str, object]]:
        server = await SioServer().start()
        recorder = Recorder()
        client = client_for(server.url, recorder)
        task = asyncio.create_task(client.run())
        await server.until(lambda: len(server.received) == 2)
        sid = server.sids[0]
        await server.sio.emit('command_to_robot', command, to=sid)
        await server.sio.emit('exclusive_control', ({'status': 'start'}, 'extra'), to=sid)
        await server.sio.emit('robot_settings_changed', to=sid)
        await recorder.until(lambda: len(recorder.of('event')) == 3)
        await stopped(client, task)
        await server.stop()
        return recorder.of('event')

    assert run(test()) == [('command_to_robot', command),
                           ('exclusive_control', ({'status': 'start'}, 'extra')),
                           ('robot_settings_changed', None)]


def test_an_event_whose_handling_raises_is_counted_and_the_next_is_handled() -> None:
    def on_event(event: str, data: object) -> None:
        if event == 'poison':
            raise RecursionError('maximum recursion depth exceeded')
        recorder.on_event(event, data)

    async def test() -> None:
        server = await SioServer().start()
        client = SocketIOClient(SocketIOClientConfig(url=server.url, backoff=FAST),
                                recorder, on_event=on_event, hello=hello)
        task = asyncio.create_task(client.run())
        await server.until(lambda: len(server.received) == 2)
        sid = server.sids[0]
        await server.sio.emit('poison', {'x': 1}, to=sid)
        await server.sio.emit('command_to_robot', {'command': 'F'}, to=sid)
        await recorder.until(lambda: len(recorder.of('event')) == 1)
        assert client.connected
        await stopped(client, task)
        await server.stop()

    recorder = Recorder()
    run(test())
    assert recorder.of('event') == [('command_to_robot', {'command': 'F'})]
    assert recorder.of('bad_frame') == [
        "unusable event 'poison': RecursionError: maximum recursion depth exceeded"]
    assert len(recorder.of('up')) == 1


def test_identification_is_repeated_after_a_server_restart_and_the_queue_survives() -> None:
    async def test() -> tuple[list[tuple[str, object]], Recorder]:
        server = await SioServer().start()
        port = server.port
        recorder = Recorder()
        client = client_for(server.url, recorder)
        task = asyncio.create_task(client.run())
        await server.until(lambda: len(server.received) == 2)
        await server.stop()
        await recorder.until(lambda: bool(recorder.of('down')))
        for i in range(3):
            client.emit('charge_state', {'robot_id': ROBOT_ID, 'charging': bool(i % 2), 'n': i})
        restarted = await SioServer().start(port)
        await restarted.until(lambda: len(restarted.received) == 5, timeout=10.0)
        await recorder.until(lambda: len(recorder.of('up')) == 2)
        await stopped(client, task)
        await restarted.stop()
        return restarted.events(), recorder

    received, recorder = run(test())
    assert received == [('robot_id', ROBOT_ID), ('identify_robot_id', ROBOT_ID)] + [
        ('charge_state', {'robot_id': ROBOT_ID, 'charging': bool(i % 2), 'n': i})
        for i in range(3)]
    ups_and_downs = [kind for kind, _ in recorder.events if kind in ('up', 'down')]
    assert ups_and_downs == ['up', 'down', 'up', 'down']


def test_a_session_ended_by_the_server_is_reopened_and_reidentified() -> None:
    # After a socket.io DISCONNECT from the server the library does not reconnect by itself.
    async def test() -> tuple[SioServer, Recorder]:
        server = await SioServer().start()
        recorder = Recorder()
        client = client_for(server.url, recorder)
        task = asyncio.create_task(client.run())
        await server.until(lambda: len(server.received) == 2)
        await server.sio.disconnect(server.sids[0])
        await server.until(lambda: len(server.sids) == 2 and len(server.received) == 4,
                           timeout=10.0)
        await stopped(client, task)
        await server.stop()
        return server, recorder

    server, recorder = run(test())
    second = server.sids[1]
    assert server.events(second) == [('robot_id', ROBOT_ID), ('identify_robot_id', ROBOT_ID)]
    assert len(recorder.of('up')) == 2


def test_a_server_not_yet_running_is_retried_and_reported_without_secrets() -> None:
    async def test() -> tuple[Recorder, SioServer]:
        probe = await SioServer().start()
        port = probe.port
        await probe.stop()
        recorder = Recorder()
        client = client_for(f'http://127.0.0.1:{port}/?key=SECRET', recorder,
                            secrets=['TOKEN'])
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: len(recorder.of('error')) >= 2)
        server = await SioServer().start(port)
        await recorder.until(lambda: bool(recorder.of('up')), timeout=10.0)
        await server.until(lambda: len(server.received) == 2)
        await stopped(client, task)
        await server.stop()
        return recorder, server

    recorder, server = run(test())
    errors = recorder.of('error')
    assert all(e.startswith(f'connect to http://127.0.0.1:{server.port}/ failed') for e in errors)
    assert not any('SECRET' in e or 'TOKEN' in e for e in errors)


@pytest.mark.parametrize('transports', [(), ('websocket',)])
def test_a_server_that_accepts_tcp_but_never_answers_is_timed_out_and_retried(
        transports: tuple[str, ...]) -> None:
    # Found by the fault matrix: the upgrade had no timeout but aiohttp's default 5 minutes.
    proxy = None

    async def test() -> Recorder:
        nonlocal proxy
        server = await SioServer().start()
        proxy = FaultProxy('127.0.0.1', server.port)
        proxy.blackhole()
        recorder = Recorder()
        client = SocketIOClient(SocketIOClientConfig(
            url=f'http://127.0.0.1:{proxy.port}', backoff=FAST, transports=transports,
            connect_timeout_s=0.5), recorder, on_event=recorder.on_event, hello=hello)
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: len(recorder.of('error')) >= 2, timeout=10.0)
        assert proxy.accepted >= 2
        proxy.pass_through()
        await recorder.until(lambda: bool(recorder.of('up')), timeout=10.0)
        await server.until(lambda: len(server.received) == 2)
        # Once up, the session outlives the connect timeout many times over.
        await asyncio.sleep(2.0)
        assert client.connected and len(recorder.of('up')) == 1
        await stopped(client, task)
        await server.stop()
        return recorder

    try:
        recorder = run(test())
    finally:
        if proxy is not None:
            proxy.close()
    assert all('failed' in error for error in recorder.of('error'))


def test_close_while_disconnected_returns_promptly() -> None:
    async def test() -> list[tuple[str, object]]:
        recorder = Recorder()
        client = client_for('http://127.0.0.1:9', recorder)  # discard port: refused
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: bool(recorder.of('error')))
        await stopped(client, task)
        return recorder.events

    events = run(test(), timeout=10.0)
    assert 'up' not in [kind for kind, _ in events]


def test_run_again_after_close_reconnects() -> None:
    async def test() -> SioServer:
        server = await SioServer().start()
        recorder = Recorder()
        client = client_for(server.url, recorder)
        for round_ in range(2):
            task = asyncio.create_task(client.run())
            await server.until(lambda: len(server.received) == 2 * (round_ + 1))
            await stopped(client, task)
        await server.until(lambda: len(server.disconnected) == 2)
        await server.stop()
        return server

    server = run(test())
    assert len(server.sids) == 2


def test_reconnection_options_follow_the_backoff() -> None:
    options = reconnection_options(Backoff(min_s=0.5, max_s=8.0))
    assert options == {'reconnection_delay': 0.5, 'reconnection_delay_max': 8.0,
                       'randomization_factor': 0.25}


@pytest.mark.parametrize('protocol, expected', [('auto', 4), ('4', 4)])
def test_a_protocol_4_server_is_detected_and_held(protocol: str, expected: int) -> None:
    async def test() -> tuple[int | None, list[str]]:
        server = await SioServer().start()
        recorder = Recorder()
        client = client_for(server.url, recorder, engineio_protocol=protocol)
        task = asyncio.create_task(client.run())
        await server.until(lambda: len(server.received) == 2)
        await recorder.until(lambda: bool(recorder.of('up')))
        found = client.engineio_protocol
        await stopped(client, task)
        await server.stop()
        return found, server.sids

    found, sids = run(test())
    assert found == expected and len(sids) == 1  # the refused protocol-3 offer made no session


def test_protocol_3_forced_on_a_protocol_4_server_is_refused_and_reported() -> None:
    async def test() -> Recorder:
        server = await SioServer().start()
        recorder = Recorder()
        client = client_for(server.url, recorder, engineio_protocol='3')
        task = asyncio.create_task(client.run())
        await recorder.until(lambda: len(recorder.of('error')) >= 2)
        assert not server.sids and client.engineio_protocol is None
        await stopped(client, task)
        await server.stop()
        return recorder

    assert not run(test()).of('up')


def test_an_unknown_protocol_choice_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match='engineio_protocol'):
        SocketIOClientConfig(url='http://127.0.0.1:1', engineio_protocol='5')  # type: ignore


def test_the_handshake_names_the_protocol() -> None:
    for protocol, expected in (('3', 'EIO=3'), ('4', 'EIO=4')):
        client = EngineIOClient(protocol=protocol, handle_sigint=False)  # type: ignore
        client.protocol = int(protocol)
        url = client._get_engineio_url('http://h:1/?a=b', 'socket.io', 'websocket')
        assert url == f'ws://h:1/socket.io/?a=b&transport=websocket&{expected}'
