"""WebSocketServer against real websockets clients on 127.0.0.1 (the Reachy shape)."""

from __future__ import annotations

import asyncio
from functools import partial
import json
import logging
from typing import Any, Awaitable, Callable, TypeVar

import async_helpers
from async_helpers import Recorder, WAIT_S
import pytest
from robot_bridges.runtime.link import Frame
from robot_bridges.runtime.websocket_server import WebSocketServer, WebSocketServerConfig
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

T = TypeVar('T')
run = partial(async_helpers.run, timeout=20.0)


async def serving(test: Callable[[WebSocketServer, Recorder, str], Awaitable[T]],
                  **kwargs: Any) -> T:
    """Run a server on an ephemeral loopback port around ``test``, then close it."""
    max_bytes = kwargs.pop('max_message_bytes', 1 << 20)
    recorder = Recorder()
    server = WebSocketServer(WebSocketServerConfig(port=0, max_message_bytes=max_bytes),
                             recorder, **kwargs)
    task = asyncio.create_task(server.run())
    port = await asyncio.wait_for(server.wait_listening(), WAIT_S)
    try:
        return await test(server, recorder, f'ws://127.0.0.1:{port}/any/path')
    finally:
        await asyncio.wait_for(server.close(), WAIT_S)
        await asyncio.wait_for(task, WAIT_S)


async def recv(peer: ClientConnection) -> Frame:
    return await asyncio.wait_for(peer.recv(), WAIT_S)


def test_one_peer_exchanges_frames_in_order() -> None:
    async def test(server: WebSocketServer, recorder: Recorder,
                   url: str) -> tuple[list[Frame], list[tuple[str, object]]]:
        async with connect(url) as peer:
            await recorder.until(lambda: server.connected)
            for i in range(5):
                server.send(f'goal {i}')
            received = [await recv(peer) for _ in range(6)]
            await peer.send('present')
            await peer.send(b'\x00binary')
            await recorder.until(lambda: len(recorder.of('frame')) == 2)
        await recorder.until(lambda: bool(recorder.of('down')))
        return received, recorder.events

    received, events = run(serving(test, hello=lambda: ['hello']))
    assert received == ['hello'] + [f'goal {i}' for i in range(5)]
    kinds = [kind for kind, _ in events]
    assert kinds[0] == 'up' and kinds[-1] == 'down'
    assert [v for k, v in events if k == 'frame'] == ['present', b'\x00binary']
    assert sum(v for k, v in events if k == 'sent') == 5  # type: ignore[misc]
    assert dict(events)['down'] == 'closed with code 1000'
    assert 'error' not in kinds


def test_lockstep_loop_paced_by_the_peer() -> None:
    """The Reachy loop: the server sends goals, the peer answers each with one frame."""
    async def peer_loop(url: str, rounds: int) -> int:
        answered = 0
        async with connect(url) as peer:
            for _ in range(rounds):
                goals = json.loads(await recv(peer))
                await peer.send(json.dumps({'motors': [
                    {'name': m['name'], 'present_position': m['goal_position']}
                    for m in goals['motors']]}))
                answered += 1
        return answered

    async def test(server: WebSocketServer, recorder: Recorder, url: str) -> list[object]:
        answers: list[object] = []

        def next_goal() -> None:
            step = len(answers)
            server.send(json.dumps({'motors': [{'name': 'head.left_antenna',
                                                'goal_position': float(step)}]}).encode())

        original = recorder.link_frame

        def on_frame(frame: Frame) -> None:
            original(frame)
            answers.append(json.loads(frame))
            next_goal()

        recorder.link_frame = on_frame  # type: ignore[method-assign]
        next_goal()
        assert await asyncio.wait_for(peer_loop(url, 10), WAIT_S) == 10
        await recorder.until(lambda: len(answers) == 10)
        return answers

    answers = run(serving(test))
    assert [a['motors'][0]['present_position'] for a in answers] == [float(i) for i in range(10)]


def test_a_second_peer_is_refused_with_1013_and_reported() -> None:
    async def test(server: WebSocketServer, recorder: Recorder, url: str) -> tuple[int, str]:
        async with connect(url) as first:
            await recorder.until(lambda: server.connected)
            async with connect(url) as second:
                with pytest.raises(ConnectionClosed) as caught:
                    await recv(second)
            assert caught.value.rcvd is not None
            # The first peer is untouched.
            server.send('still here')
            assert await recv(first) == 'still here'
            errors = recorder.of('error')
            assert recorder.of('up') == [None]
            return int(caught.value.rcvd.code), str(errors[0])

    code, error = run(serving(test))
    assert code == 1013
    assert error.startswith('refused a second peer from 127.0.0.1:')


def test_an_unclean_drop_is_link_down_without_error_output(
        caplog: pytest.LogCaptureFixture) -> None:
    async def test(server: WebSocketServer, recorder: Recorder, url: str) -> list[object]:
        peer = await connect(url)
        await recorder.until(lambda: server.connected)
        peer.transport.abort()  # no close frame, no TCP FIN handshake
        await recorder.until(lambda: not server.connected and bool(recorder.of('down')))
        # The next peer is served.
        async with connect(url) as again:
            server.send('welcome back')
            assert await recv(again) == 'welcome back'
        await recorder.until(lambda: len(recorder.of('down')) == 2)
        return recorder.of('down')

    with caplog.at_level(logging.DEBUG):
        downs = run(serving(test))
    assert downs[0] == 'connection lost without a close frame'
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_frames_queued_without_a_peer_go_to_the_next_peer_after_hello() -> None:
    async def test(server: WebSocketServer, recorder: Recorder, url: str) -> list[Frame]:
        for i in range(4):
            server.send(f'queued {i}')  # outbox_size 3: 'queued 0' is dropped
        async with connect(url) as peer:
            return [await recv(peer) for _ in range(4)]

    received = run(serving(test, outbox_size=3, hello=lambda: [b'hello']))
    assert received == [b'hello', 'queued 1', 'queued 2', 'queued 3']


def test_a_frame_interrupted_by_a_drop_is_not_lost() -> None:
    async def test(server: WebSocketServer, recorder: Recorder, url: str) -> list[Frame]:
        async with connect(url) as peer:
            await recorder.until(lambda: server.connected)
        await recorder.until(lambda: not server.connected)
        server.send('after the drop')
        async with connect(url) as peer:
            return [await recv(peer)]

    assert run(serving(test)) == ['after the drop']


def test_an_oversize_frame_is_a_bad_frame_and_the_next_peer_is_served() -> None:
    async def test(server: WebSocketServer, recorder: Recorder, url: str) -> tuple[int, str]:
        async with connect(url) as peer:
            await peer.send('x' * 2048)
            with pytest.raises(ConnectionClosed) as caught:
                await recv(peer)
        await recorder.until(lambda: bool(recorder.of('down')))
        async with connect(url) as peer:
            await peer.send('small')
            await recorder.until(lambda: recorder.of('frame') == ['small'])
        assert caught.value.rcvd is not None
        return int(caught.value.rcvd.code), str(recorder.of('bad_frame')[0])

    code, bad = run(serving(test, max_message_bytes=1024))
    assert code == 1009
    assert 'over max_message_bytes' in bad


def test_close_is_a_close_handshake_and_stops_listening() -> None:
    async def test() -> tuple[int, list[tuple[str, object]]]:
        recorder = Recorder()
        server = WebSocketServer(WebSocketServerConfig(port=0), recorder)
        task = asyncio.create_task(server.run())
        port = await server.wait_listening()
        url = f'ws://127.0.0.1:{port}'
        peer = await connect(url)
        await recorder.until(lambda: server.connected)
        await asyncio.wait_for(server.close(), WAIT_S)
        await asyncio.wait_for(task, WAIT_S)
        with pytest.raises(ConnectionClosed) as caught:
            await recv(peer)
        with pytest.raises(OSError):
            await connect(url, open_timeout=WAIT_S)
        with pytest.raises(RuntimeError):
            server.port
        assert caught.value.rcvd is not None
        return int(caught.value.rcvd.code), recorder.events

    code, events = run(test())
    assert code == 1001
    assert [kind for kind, _ in events] == ['up', 'down']


def test_run_again_after_close_listens_again() -> None:
    async def test() -> list[Frame]:
        recorder = Recorder()
        server = WebSocketServer(WebSocketServerConfig(port=0), recorder)
        received: list[Frame] = []
        for round_ in range(2):
            task = asyncio.create_task(server.run())
            port = await server.wait_listening()
            async with connect(f'ws://127.0.0.1:{port}') as peer:
                server.send(f'round {round_}')
                received.append(await recv(peer))
            await server.close()
            await asyncio.wait_for(task, WAIT_S)
        return received

    assert run(test()) == ['round 0', 'round 1']


def test_a_port_in_use_raises_oserror_from_run() -> None:
    async def test() -> None:
        first = WebSocketServer(WebSocketServerConfig(port=0), Recorder())
        first_task = asyncio.create_task(first.run())
        port = await first.wait_listening()
        second = WebSocketServer(WebSocketServerConfig(port=port), Recorder())
        with pytest.raises(OSError):
            await second.run()
        with pytest.raises(RuntimeError):
            await second.wait_listening()
        await first.close()
        await first_task

    run(test())


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ValueError):
        WebSocketServerConfig(port=70000)
    with pytest.raises(ValueError):
        WebSocketServerConfig(port=0, max_message_bytes=0)


class UrlAtDown(Recorder):
    """A listener that reads the server's display_url when the peer's link goes down."""

    server: WebSocketServer | None = None

    def link_down(self, reason: str) -> None:
        assert self.server is not None
        self._add('url', self.server.display_url)  # a bridge logs it here
        super().link_down(reason)


def test_the_display_url_is_there_when_the_server_closes_with_a_peer() -> None:
    # The peer's link goes down while the server stops listening (seen in the fault matrix:
    # the bridge's shutdown log line raised from the loop's callback).
    async def test() -> tuple[int, list[tuple[str, object]]]:
        listener = UrlAtDown()
        server = listener.server = WebSocketServer(WebSocketServerConfig(port=0), listener)
        task = asyncio.create_task(server.run())
        port = await asyncio.wait_for(server.wait_listening(), WAIT_S)
        async with connect(f'ws://127.0.0.1:{port}/') as peer:
            await listener.until(lambda: server.connected)
            await asyncio.wait_for(server.close(), WAIT_S)
            await asyncio.wait_for(task, WAIT_S)
            with pytest.raises(ConnectionClosed):
                await recv(peer)
        return port, listener.events
    port, events = run(test())
    assert ('url', f'ws://127.0.0.1:{port}') in events or ('url', 'ws://127.0.0.1:0') in events
    assert [kind for kind, _ in events][-2:] == ['url', 'down']
