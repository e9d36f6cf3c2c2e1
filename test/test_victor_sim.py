"""victor_sim: the library API in this process, the executable as a process."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any, Awaitable, Callable, TypeVar

from async_helpers import nothing_arrives, recv_json
import pytest
from robot_bridges.protocols import webviz
from robot_bridges.sims import victor_traffic as traffic
from robot_bridges.sims.civetweb import Firmware
from robot_bridges.sims.victor_sim import make_micdata, start, VictorSim
from ros_helpers import Proc
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

T = TypeVar('T')
MICDATA_KEYS = {'time', 'confidence', 'selectedDirection', 'maxConfidence', 'triggerDetected',
                'delayTime', 'activeState', 'latestPowerValue', 'latestNoiseFloor',
                'directions', 'beatDetector'}


def run(scenario: Callable[..., Awaitable[T]], timeout: float = 30.0, **options: Any) -> T:
    """Start a simulator with ``options``, run ``scenario(sim)``, always close it."""
    async def main() -> T:
        sim = await start(port=0, **options)
        try:
            return await asyncio.wait_for(scenario(sim), timeout)
        finally:
            await sim.close()
    return asyncio.run(main())


def url(sim: VictorSim) -> str:
    return f'ws://127.0.0.1:{sim.port}/socket'


async def subscribe(ws: ClientConnection, *modules: str) -> None:
    for module in modules:
        await ws.send(json.dumps({'type': 'subscribe', 'module': module}))


async def collect(ws: ClientConnection, module: str, count: int,
                  timeout: float = 10.0) -> list[Any]:
    got: list[Any] = []
    while len(got) < count:
        frame = await recv_json(ws, timeout)
        if frame['module'] == module:
            got.append(frame['data'])
    return got


# -- library API -------------------------------------------------------------------------

def test_push_reaches_subscribers_of_that_module_only() -> None:
    async def scenario(sim: VictorSim) -> None:
        assert sim.push('micdata', {'x': 1}) == 0
        async with connect(url(sim)) as a, connect(url(sim)) as b:
            await subscribe(a, 'micdata')
            await subscribe(b, 'animations')
            await sim.wait_for_subscribers('micdata')
            await sim.wait_for_subscribers('animations')
            data = make_micdata(1.5, 9, 150)
            assert sim.push('micdata', data) == 1
            assert await recv_json(a) == {'module': 'micdata', 'data': data}
            assert await nothing_arrives(b)
            assert sim.push('animations', {'type': 'start', 'animation': 'x'}) == 1
            assert (await recv_json(b))['module'] == 'animations'
            assert await nothing_arrives(a)

            await subscribe(b, 'micdata')
            await sim.wait_for_subscribers('micdata', 2)
            assert sim.push('micdata', data) == 2
            assert (await recv_json(a))['data'] == (await recv_json(b))['data'] == data

            await b.send(json.dumps({'type': 'unsubscribe', 'module': 'micdata'}))
            await asyncio.sleep(0.2)
            assert sim.push('micdata', data) == 1
            assert await nothing_arrives(b)
        await asyncio.sleep(0.2)
        assert sim.push('micdata', data) == 0  # closed connections are forgotten
    run(scenario, autoplay=False)


def test_keepalive_is_answered_and_garbage_ignored() -> None:
    async def scenario(sim: VictorSim) -> None:
        async with connect(url(sim)) as ws:
            for garbage in ('not json', '[1, 2]', '{', ' {"keepalive": true}', '"x"',
                            b'{"keepalive": true}', '{"type": "fly", "module": "micdata"}',
                            '{"type": "subscribe"}'):
                await ws.send(garbage)
            assert await nothing_arrives(ws)
            await ws.send('{"keepalive": 1}')
            assert await recv_json(ws) == {'keepalive': True}
            assert not sim.subscribers['micdata']
    run(scenario, autoplay=False)


def test_data_requests_are_recorded() -> None:
    async def scenario(sim: VictorSim) -> None:
        async with connect(url(sim)) as ws:
            await ws.send(json.dumps({'type': 'data', 'module': 'behaviors',
                                      'data': {'behaviorName': 'Wait'}}))
            await ws.send('{"keepalive": true}')
            await recv_json(ws)
            assert list(sim.requests) == [webviz.DataRequest('behaviors',
                                                             {'behaviorName': 'Wait'})]
    run(scenario, autoplay=False)


def test_only_the_socket_path_upgrades() -> None:
    async def scenario(sim: VictorSim) -> None:
        with pytest.raises(InvalidStatus, match='404'):
            async with connect(f'ws://127.0.0.1:{sim.port}/'):
                pass
        async with connect(url(sim) + '?client=test'):
            pass
    run(scenario, autoplay=False)


def test_wait_for_subscribers_times_out() -> None:
    async def scenario(sim: VictorSim) -> None:
        with pytest.raises(TimeoutError):
            await sim.wait_for_subscribers('micdata', timeout=0.2)
    run(scenario, autoplay=False)


def test_no_traffic_without_autoplay() -> None:
    async def scenario(sim: VictorSim) -> None:
        async with connect(url(sim)) as ws:
            await subscribe(ws, 'micdata', 'animations', 'observedobjects', 'intents')
            assert await nothing_arrives(ws, 1.0)
    run(scenario, autoplay=False)


@pytest.mark.parametrize('options', [{'rate_hz': 0}, {'rate_hz': -1.0}, {'field': 'dom'}])
def test_invalid_options(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        run(lambda sim: asyncio.sleep(0), **options)


# -- scripted traffic --------------------------------------------------------------------

@pytest.mark.parametrize('field, names', [
    ('both', {'dominant', 'direction'}), ('dominant', {'dominant'}),
    ('direction', {'direction'}),
])
def test_micdata_has_every_field_under_the_chosen_name(field: str, names: set[str]) -> None:
    async def scenario(sim: VictorSim) -> list[Any]:
        async with connect(url(sim)) as ws:
            await subscribe(ws, 'micdata')
            return await collect(ws, 'micdata', 20)
    pushes = run(scenario, rate_hz=200.0, field=field)
    for data in pushes:
        assert set(data) == MICDATA_KEYS | names
        assert len(data['directions']) == 13
        sample = webviz.parse_micdata(data)
        assert 0 <= sample.direction <= 12
        assert all(data[name] == sample.direction for name in names)
    times = [data['time'] for data in pushes]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_pretty_frames_are_multi_line() -> None:
    async def scenario(sim: VictorSim) -> str:
        async with connect(url(sim)) as ws:
            await subscribe(ws, 'micdata')
            return str(await asyncio.wait_for(ws.recv(), 5))
    frame = run(scenario, rate_hz=50.0, pretty=True)
    assert frame.count('\n') > 10 and frame.startswith('{\n\t"')
    assert isinstance(webviz.parse_push(frame), webviz.Push)


def test_the_source_moves_around_the_robot() -> None:
    heard = [traffic.mic_source(n / 100) for n in range(2400)]  # 24 robot seconds
    assert {direction for direction, _, _ in heard} == set(range(13))
    triggers = [trigger for _, _, trigger in heard]
    onsets = [n for n, trigger in enumerate(triggers) if trigger and not triggers[n - 1]]
    assert onsets == [0, 700, 1400, 2100]  # the start of each burst of speech
    # A level held for the robot's 2 s display window, not a one-sample pulse.
    assert 199 <= sum(triggers) / len(onsets) <= 201
    assert all(confidence >= 0 for _, confidence, _ in heard)


@pytest.mark.parametrize('rate', [10.0, 1000.0])
def test_micdata_rate(rate: float) -> None:
    async def scenario(sim: VictorSim) -> float:
        async with connect(url(sim)) as ws:
            await subscribe(ws, 'micdata')
            await collect(ws, 'micdata', 2)
            begin = time.monotonic()
            count = int(rate * 2)
            await collect(ws, 'micdata', count)
            return count / (time.monotonic() - begin)
    measured = run(scenario, rate_hz=rate)
    assert rate * 0.8 < measured < rate * 1.2


def test_other_modules_send_protocol_shaped_traffic() -> None:
    async def scenario(sim: VictorSim) -> dict[str, list[Any]]:
        got: dict[str, list[Any]] = {}
        async with connect(url(sim)) as ws:
            await subscribe(ws, 'animations', 'observedobjects', 'intents', 'behaviors',
                            'soundreactions', 'speechrecognizersys')
            deadline = time.monotonic() + 7.3
            while time.monotonic() < deadline:
                frame = await recv_json(ws)
                got.setdefault(frame['module'], []).append(frame['data'])
        return got
    got = run(scenario)
    assert set(got) == {'animations', 'observedobjects', 'intents', 'behaviors',
                        'soundreactions', 'speechrecognizersys'}
    assert {(a['type'], type(a['animation'])) for a in got['animations']} == \
        {('start', str), ('stop', str)}
    sightings = [o for o in got['observedobjects'] if o['type'] == 'RobotObservedObject']
    assert len(sightings) >= 8
    assert set(sightings[0]) == {'type', 'objectID', 'objectType', 'isActive', 'timestamp'}
    faces = [o for o in got['observedobjects'] if o['type'] == 'RobotObservedFace']
    assert faces and set(faces[0]) == {'type', 'faceID', 'name', 'timestamp', 'originID'}
    assert set(got['speechrecognizersys'][0]) == {
        'result', 'startTime_ms', 'endTime_ms', 'startSampleIndex', 'endSampleIndex', 'score',
        'notch', 'playback'}
    snapshot = got['intents'][0]
    assert isinstance(snapshot, list)
    assert {(b['intentType'], b['type']) for b in snapshot} >= \
        {('user', 'all-intents'), ('cloud', 'all-intents')}
    tree, ids = got['behaviors'][:2]
    assert set(tree) == {'time', 'tree', 'stack'}
    assert all(set(node) == {'behaviorID', 'parent'} for node in tree['tree'])
    assert tree['stack'] == [node['behaviorID'] for node in tree['tree']]
    assert isinstance(ids, list) and 'Wait' in ids


def test_intents_request_sets_the_current_intent() -> None:
    async def scenario(sim: VictorSim) -> list[Any]:
        async with connect(url(sim)) as ws:
            await subscribe(ws, 'intents')
            await collect(ws, 'intents', 1)  # the snapshot
            for data in ({'intentType': 'user', 'request': 'no_such_intent'},
                         {'intentType': 'user', 'request': 'play_fistbump'}):
                await ws.send(json.dumps({'type': 'data', 'module': 'intents', 'data': data}))
            return await collect(ws, 'intents', 1)
    assert run(scenario) == [[{'intentType': 'user', 'type': 'current-intent',
                               'value': 'play_fistbump'}]]


def test_make_micdata_is_complete() -> None:
    data = make_micdata(12.25, 3, 120, 'dominant', trigger_detected=True)
    assert set(data) == MICDATA_KEYS | {'dominant'}
    assert data['time'] == 12.25 and data['dominant'] == 3 and data['confidence'] == 120
    assert data['triggerDetected'] is True
    assert max(range(13), key=lambda i: data['directions'][i]) == 3
    assert data['directions'][12] == 0.0  # always, on the robot
    assert data['beatDetector'] == {'confidence': -1.0, 'tempo_bpm': -1.0}  # detector off
    assert data['maxConfidence'] >= 1000.0  # the display's floor
    # An unknown direction: 12, confidence 0 and all 13 confidences 0, whatever was given.
    unknown = make_micdata(1.0, 12, 9)
    assert unknown['dominant'] == unknown['direction'] == 12 and unknown['confidence'] == 0
    assert unknown['directions'] == [0.0] * 13
    assert unknown['activeState'] == 0
    assert all(c == 0 for d, c, _ in (traffic.mic_source(t / 10) for t in range(240)) if d == 12)


# -- the firmware's civetweb habits ---------------------------------------------------------

def test_firmware_mode_answers_no_ping_but_the_keepalive() -> None:
    async def scenario(sim: VictorSim) -> tuple[bool, str]:
        async with connect(url(sim), ping_interval=None) as ws:
            pong = await ws.ping()
            try:
                await asyncio.wait_for(pong, 0.5)
                answered = True
            except asyncio.TimeoutError:
                answered = False
            await ws.send('{"keepalive": true}')
            return answered, str(await asyncio.wait_for(ws.recv(), 5))
    answered, answer = run(scenario, autoplay=False)
    assert not answered
    assert answer == '{\n\t"keepalive" : true\n}'  # jsoncpp's styled writer
    assert run(lambda sim: ping_answered(sim), autoplay=False, firmware=Firmware(pong=True))


async def ping_answered(sim: VictorSim) -> bool:
    async with connect(url(sim), ping_interval=None) as ws:
        await asyncio.wait_for(await ws.ping(), 2)
        return True


def test_firmware_mode_closes_tcp_instead_of_answering_a_close() -> None:
    async def scenario(sim: VictorSim) -> tuple[Any, list[str]]:
        ws = await connect(url(sim), ping_interval=None, close_timeout=2)
        await ws.close()
        await asyncio.sleep(0.05)
        return ws.protocol.close_rcvd, list(sim.drops)
    close_received, drops = run(scenario, autoplay=False)
    assert close_received is None
    assert drops == ['close frame received (civetweb closes the TCP connection, no reply)']


def test_firmware_mode_closes_a_silent_client_even_while_it_pushes() -> None:
    async def scenario(sim: VictorSim) -> tuple[float, int, list[str]]:
        async with connect(url(sim), ping_interval=None) as silent, \
                connect(url(sim), ping_interval=None) as talking:
            await subscribe(silent, 'micdata')
            await subscribe(talking, 'micdata')
            begin = time.monotonic()
            with pytest.raises(ConnectionClosedError):
                async for _ in silent:  # micdata flows to it until the server drops it
                    await talking.send('{"keepalive": true}')
            lasted = time.monotonic() - begin
            assert silent.protocol.close_rcvd is None  # a TCP close, no close frame
            frames = 0
            async for _ in talking:
                frames += 1
                if frames > 20:
                    break
            return lasted, frames, list(sim.drops)
    lasted, frames, drops = run(scenario, rate_hz=50.0,
                                firmware=Firmware(client_timeout_s=0.6))
    assert 0.5 < lasted < 3.0  # 0.6 s on a quiet machine
    assert frames > 20  # the client that sends keepalives is still served
    assert len(drops) == 1 and drops[0].startswith('nothing received from the client for 0.6')


def test_firmware_mode_serves_four_websockets_and_the_fifth_waits() -> None:
    async def scenario(sim: VictorSim) -> tuple[bool, float]:
        clients = [await connect(url(sim), ping_interval=None) for _ in range(4)]
        fifth = asyncio.ensure_future(connect(url(sim), ping_interval=None, open_timeout=None))
        await asyncio.sleep(0.5)
        waited = not fifth.done() and sim.workers.waiting == 1
        begin = time.monotonic()
        await clients[0].close()
        opened = await asyncio.wait_for(fifth, 5)
        took = time.monotonic() - begin
        for ws in (*clients[1:], opened):
            await ws.close()
        return waited, took
    waited, took = run(scenario, autoplay=False)
    assert waited and took < 1.0


def test_a_production_build_accepts_micdata_and_sends_none() -> None:
    async def scenario(sim: VictorSim) -> bool:
        async with connect(url(sim)) as ws:
            await subscribe(ws, 'micdata', 'intents')
            await sim.wait_for_subscribers('micdata')
            await collect(ws, 'intents', 1)  # the engine's modules still answer
            return await nothing_arrives(ws, 1.0)
    assert run(scenario, micdata=False)


def test_micdata_comes_at_the_firmware_cadence_by_default() -> None:
    async def scenario(sim: VictorSim) -> float:
        async with connect(url(sim)) as ws:
            await subscribe(ws, 'micdata')
            await collect(ws, 'micdata', 1)
            begin = time.monotonic()
            await collect(ws, 'micdata', 15)
            return (time.monotonic() - begin) / 15
    assert 0.11 < run(scenario) < 0.16  # one push per 132 ms


# -- the executable ----------------------------------------------------------------------

@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_executable_prints_its_url_and_stops_on_signal(
        procs: Callable[..., Proc], sig: int) -> None:
    sim = procs('victor_sim', '--port', '0', '--rate', '100', '--field', 'direction',
                '--pretty')
    address = sim.wait_output(r'^victor_sim: listening on (ws://127\.0\.0\.1:\d+/socket)$', 15)

    async def client() -> Any:
        async with connect(address.group(1)) as ws:
            await subscribe(ws, 'micdata')
            frame = await asyncio.wait_for(ws.recv(), 5)
            begin = time.monotonic()
            sim._popen.send_signal(sig)
            async for _ in ws:  # the simulator closes the connection cleanly
                pass
            assert ws.close_code == 1001
            return frame, time.monotonic() - begin
    frame, closed_after = asyncio.run(client())
    assert '\n' in frame and '"dominant"' not in frame
    assert sim.wait_exit(2.0 - closed_after) == 0
    assert 'Traceback' not in sim.output


def test_executable_rejects_bad_arguments(procs: Callable[..., Proc]) -> None:
    for args in (('--rate', '0'), ('--field', 'x'), ('--port', '-1'),
                 ('--client-timeout', '-1'), ('--workers', '-2')):
        sim = procs('victor_sim', *args)
        assert sim.wait_exit(10) == 2
        assert 'Traceback' not in sim.output


def test_executable_reports_a_busy_port(procs: Callable[..., Proc]) -> None:
    first = procs('victor_sim', '--port', '0')
    port = first.wait_output(r'listening on ws://127\.0\.0\.1:(\d+)', 15).group(1)
    second = procs('victor_sim', '--port', port)
    assert second.wait_exit(10) == 1
    assert 'cannot listen' in second.output and 'Traceback' not in second.output


def test_executable_drops_a_stalled_subscriber_and_stops_quickly_with_one(
        procs: Callable[..., Proc]) -> None:
    sim = procs('victor_sim', '--port', '0', '--rate', '5000', '--pretty',
                '--max-send-buffer', str(256 << 10))
    address = sim.wait_output(r'listening on (ws://127\.0\.0\.1:\d+/socket)$', 15).group(1)

    async def stalled_subscriber() -> ClientConnection:
        ws = await connect(address)
        await subscribe(ws, 'micdata')
        await asyncio.wait_for(ws.recv(), 5)
        ws.transport.pause_reading()  # micdata piles up in the simulator from here on
        return ws

    async def scenario() -> float:
        first = await stalled_subscriber()
        # Once the kernel's socket buffers are full, the bound is reached within a second.
        await asyncio.to_thread(sim.wait_output, r'victor_sim: dropped the peer 127\.0\.0\.1:'
                                r'\d+: .* over max_send_buffer_bytes \(262144\)', 60)
        first.transport.abort()
        second = await stalled_subscriber()
        begin = time.monotonic()
        sim._popen.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(sim.wait_exit, 5.0)
        second.transport.abort()
        assert code == 0
        return time.monotonic() - begin

    assert asyncio.run(scenario()) < 2.0
    assert 'Traceback' not in sim.output
