"""victor_mic_bridge end to end: simulator process, bridge process, ROS probe in this process."""

from __future__ import annotations

import asyncio
from collections import Counter
import concurrent.futures
import json
import math
import time
from typing import Any, Callable

from lifecycle_msgs.msg import Transition
import numpy as np
import pytest
from robot_bridges.msg import MicDirection
from robot_bridges.sims.victor_sim import make_micdata, VictorSim
from robot_bridges.srv import CompileMicResults
from robot_bridges.translate.victor_mic import azimuth
from ros_helpers import Collector, Diagnostics, free_port, ProbeNode, Proc, wait_for
from sim_helpers import sim_thread_fixture, SimThread, start_sim  # noqa: F401 - a fixture
from std_msgs.msg import Bool
from std_srvs.srv import SetBool
from websockets.asyncio.client import connect

FAST_RECONNECT = {'reconnect_min_s': 0.1, 'reconnect_max_s': 0.3}


def port_of(url: str) -> int:
    return int(url.rsplit(':', 1)[1].split('/')[0])


def observe(url: str, seconds: float) -> dict[float, dict[str, Any]]:
    """Subscribe to micdata directly for ``seconds``; return the pushes by robot time."""
    async def main() -> dict[float, dict[str, Any]]:
        got: dict[float, dict[str, Any]] = {}
        async with connect(url) as ws:
            await ws.send('{"type":"subscribe","module":"micdata"}')
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                got[frame['data']['time']] = frame['data']
        return got
    return asyncio.run(main())


def plain_compile(messages: list[MicDirection]) -> tuple[int, float, int] | None:
    """(direction, mean confidence, valid samples) computed without the bridge's code."""
    valid = [(m.direction, m.confidence) for m in messages if m.direction < 12]
    if not valid:
        return None
    votes = Counter(d for d, _ in valid)
    most = max(votes.values())
    winner = next(d for d, _ in valid if votes[d] == most)
    picked = [c for d, c in valid if d == winner]
    return winner, sum(picked) / len(picked), len(valid)


def settle(collector: Collector[Any], quiet: float = 0.5, timeout: float = 10.0) -> int:
    """Wait until no message arrived for ``quiet`` seconds; return the count."""
    def quiet_now() -> bool:
        return not collector.times or time.monotonic() - collector.times[-1] >= quiet
    wait_for(quiet_now, timeout, f'{quiet} s without messages')
    return len(collector)


def push_burst(sim: VictorSim, first: int, count: int) -> None:
    """Push ``count`` micdata samples at once (on the simulator's loop), robot time = index."""
    for n in range(first, first + count):
        sim.push('micdata', make_micdata(float(n), n % 12, 50))


def start_bridge(procs: Callable[..., Proc], namespace: str, **params: Any) -> Proc:
    return procs('victor_mic_bridge', namespace=namespace, params=params)


@pytest.mark.parametrize('sim_args', [('--field', 'dominant'), ('--field', 'direction'),
                                      ('--field', 'both', '--pretty')])
def test_published_values_equal_what_the_simulator_sent(
        procs: Callable[..., Proc], ros: ProbeNode, sim_args: tuple[str, ...]) -> None:
    _, url = start_sim(procs, 0, '--rate', '50', *sim_args)
    mic = ros.subscribe(MicDirection, '/mic_eq/mic_direction')
    bridge = start_bridge(procs, '/mic_eq', port=port_of(url), frame_id='mic_link')
    ros.wait_publishers('/mic_eq/mic_direction')
    mic.wait_count(5)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sent = pool.submit(observe, url, 2.0).result(30)
    time.sleep(0.3)  # the last pushes the observer saw reach the probe too
    received = {m.robot_time: m for m in list(mic.messages)}
    matched = [t for t in sent if t in received]
    # The observer sees ~100 pushes in 2 s on a quiet machine, fewer under load: nearly
    # all that it saw must have reached the probe, with equal values (checked below).
    assert len(sent) >= 10 and len(matched) >= 0.9 * len(sent), \
        f'only {len(matched)} of {len(sent)} pushes matched'
    for robot_time in matched:
        data, msg = sent[robot_time], received[robot_time]
        direction = data.get('direction', data.get('dominant'))
        assert msg.direction == direction
        assert msg.confidence == np.float32(data['confidence'])
        if direction == 12:
            assert math.isnan(msg.azimuth)
        else:
            assert msg.azimuth == np.float32(azimuth(direction))
        assert np.array_equal(np.asarray(msg.direction_confidences),
                              np.asarray(data['directions'], dtype=np.float32))
        assert msg.trigger_detected == data['triggerDetected']
        assert msg.active_state == data['activeState']
        assert msg.robot_time == robot_time
        assert msg.header.frame_id == 'mic_link'
        assert abs(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9 - time.time()) < 60
    assert ros.lifecycle_state('/mic_eq/victor_mic_bridge') == 'active'
    assert 'Traceback' not in bridge.output


def test_recording_across_a_simulator_restart(procs: Callable[..., Proc], ros: ProbeNode) -> None:
    port = free_port()
    mic = ros.subscribe(MicDirection, '/mic_rec/mic_direction')
    connected = ros.subscribe_latched(Bool, '/mic_rec/connected')
    diagnostics = Diagnostics(ros)
    bridge = start_bridge(procs, '/mic_rec', port=port, **FAST_RECONNECT)
    # Recording starts before the robot is up, so every published sample is recorded.
    assert ros.call(SetBool, '/mic_rec/set_recording', SetBool.Request(data=True)).success
    ros.wait_publishers('/mic_rec/mic_direction')

    sim, _ = start_sim(procs, port, '--rate', '100')
    mic.wait_count(100, 15)
    sim.kill()  # the robot vanishes without a close handshake
    wait_for(lambda: not connected.last.data, 10, 'connected == false')
    first_run = settle(mic)

    sim, _ = start_sim(procs, port, '--rate', '100', '--field', 'direction')
    wait_for(lambda: connected.last.data, 10, 'reconnected')
    mic.wait_count(first_run + 100, 15)
    sim.stop()
    wait_for(lambda: not connected.last.data, 10, 'connected == false')
    settle(mic)

    messages = list(mic.messages)
    times = [m.robot_time for m in messages]
    restart = next(i for i in range(1, len(times)) if times[i] < times[i - 1])
    assert restart == first_run and len(messages) - restart >= 100

    expected = plain_compile(messages)
    assert expected is not None and expected[2] > 150  # more than either run alone
    response = ros.call(CompileMicResults, '/mic_rec/compile_results',
                        CompileMicResults.Request())
    assert response.success, response.message
    assert (response.final_dominant, response.samples) == (expected[0], expected[2])
    assert response.final_confidence == pytest.approx(expected[1], rel=1e-12)
    assert f'{len(messages)} samples recorded' in response.message

    empty = ros.call(CompileMicResults, '/mic_rec/compile_results', CompileMicResults.Request())
    assert not empty.success and empty.samples == 0
    assert 'no sample' in empty.message and '0 samples recorded' in empty.message
    values = diagnostics.wait('/mic_rec/victor_mic_bridge',
                              lambda v: int(v['reconnects']) >= 1)
    assert values['recording'] == 'true'
    assert bridge.returncode is None and 'Traceback' not in bridge.output


def test_recording_is_bounded_and_stops_on_request(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    _, url = start_sim(procs, 0, '--rate', '200')
    mic = ros.subscribe(MicDirection, '/mic_max/mic_direction')
    diagnostics = Diagnostics(ros)
    start_bridge(procs, '/mic_max', port=port_of(url), max_samples=10)
    ros.wait_publishers('/mic_max/mic_direction')
    mic.wait_count(1)
    assert ros.call(SetBool, '/mic_max/set_recording', SetBool.Request(data=True)).success
    count = len(mic)
    mic.wait_count(count + 100)
    stopped = ros.call(SetBool, '/mic_max/set_recording', SetBool.Request(data=False))
    assert stopped.success and 'not recording; 10 samples buffered' in stopped.message
    # (A status from before the recording says 'false' too: wait for the one after it.)
    values = diagnostics.wait('/mic_max/victor_mic_bridge', lambda v: v['recording'] == 'false'
                              and v['recorded_samples'] == '10')
    # Samples in flight when recording started may be missing: well over 10 were recorded.
    assert int(values['recording_overflowed']) >= 50 and values['recorded_samples'] == '10'

    response = ros.call(CompileMicResults, '/mic_max/compile_results',
                        CompileMicResults.Request())
    assert '10 samples recorded' in response.message
    assert 'older samples were dropped' in response.message
    assert response.samples <= 10
    count = len(mic)
    mic.wait_count(count + 50)  # not recording: nothing is kept
    later = ros.call(CompileMicResults, '/mic_max/compile_results', CompileMicResults.Request())
    assert not later.success and '0 samples recorded' in later.message


def test_bad_input_is_counted_logged_and_survived(
        procs: Callable[..., Proc], ros: ProbeNode, sim_thread: Callable[..., SimThread]) -> None:
    server = sim_thread(autoplay=False)
    sim = server.sim
    mic = ros.subscribe(MicDirection, '/mic_bad/mic_direction')
    diagnostics = Diagnostics(ros)
    bridge = start_bridge(procs, '/mic_bad', port=sim.port, max_message_bytes=65536,
                          **FAST_RECONNECT)
    server.run(sim.wait_for_subscribers('micdata', timeout=15))
    ros.wait_publishers('/mic_bad/mic_direction')

    good = make_micdata(1.0, 4, 120)
    nan_list = {**good, 'directions': [1.0] * 12 + [float('nan')]}  # json writes NaN
    bad_frames: list[str | bytes] = [
        'not json',
        '[1, 2]',
        '{"module": "animations", "data": {"type": "start", "animation": "x"}}',
        json.dumps({'module': 'micdata', 'data': {**good, 'confidence': '120'}}),
        json.dumps({'module': 'micdata', 'data': {**good, 'dominant': '4', 'direction': 'x'}}),
        json.dumps({'module': 'micdata', 'data': nan_list}),
        json.dumps({'module': 'micdata', 'data': {'time': 1.0, 'confidence': 3}}),
        b'\xff\xfe not text',
        json.dumps({'module': 'micdata', 'data': {**good, 'directions': [0.5] * 5000}}),
    ]
    for frame in bad_frames:
        assert server.call(sim.send_raw, frame) == 1
    assert server.call(sim.push, 'micdata', make_micdata(2.0, 7, 99)) == 1
    first = mic.wait_count(1)[0]
    assert (first.robot_time, first.direction, first.confidence) == (2.0, 7, 99.0)
    diagnostics.wait('/mic_bad/victor_mic_bridge',
                     lambda v: v['decode_errors'] == str(len(bad_frames)))

    # A frame over max_message_bytes: the link closes, reopens and re-subscribes at once.
    huge = json.dumps({'module': 'micdata', 'data': {**good, 'pad': 'x' * 100_000}})
    server.call(sim.send_raw, huge)
    values = diagnostics.wait('/mic_bad/victor_mic_bridge',
                              lambda v: v['decode_errors'] == str(len(bad_frames) + 1))
    # Until the bridge is back, a push may still go to the closing connection: repeat it.
    deadline = time.monotonic() + 15
    while len(mic) < 2:
        assert time.monotonic() < deadline, 'no push arrived after the reconnection'
        server.call(sim.push, 'micdata', make_micdata(3.0, 8, 98))
        time.sleep(0.2)
    assert mic.last.robot_time == 3.0
    assert 'max_message_bytes' in values['last_error'] or 'max_message_bytes' in bridge.output

    assert bridge.returncode is None
    output = bridge.output
    # One line per kind per second: the first of each kind is logged.
    for kind in ('bad frame: frame is not JSON', "unexpected module: a push of 'animations'",
                 'bad micdata: micdata "confidence"', 'max_message_bytes'):
        assert kind in output, f'no log line for {kind!r}'
    assert 'Traceback' not in output


def test_keepalive_answers_are_not_errors(
        procs: Callable[..., Proc], ros: ProbeNode, sim_thread: Callable[..., SimThread]) -> None:
    server = sim_thread(autoplay=False)
    sim = server.sim
    diagnostics = Diagnostics(ros)
    start_bridge(procs, '/mic_ka', port=sim.port)
    server.run(sim.wait_for_subscribers('micdata', timeout=15))
    server.call(sim.send_raw, '{"keepalive":true}')
    server.call(sim.send_raw, 'still not json')
    values = diagnostics.wait('/mic_ka/victor_mic_bridge', lambda v: v['decode_errors'] == '1')
    assert values['connected'] == 'true'
    assert values['_hardware_id'] == f'ws://127.0.0.1:{sim.port}/socket'


def test_params_file_configures_the_bridge(procs: Callable[..., Proc], ros: ProbeNode) -> None:
    # config/victor.yaml from the install, with the port overridden on the command line.
    from ament_index_python.packages import get_package_share_directory
    params_file = f'{get_package_share_directory("robot_bridges")}/config/victor.yaml'
    _, url = start_sim(procs, 0, '--rate', '20')
    mic = ros.subscribe(MicDirection, '/victor_cfg/mic_direction')
    bridge = procs('victor_mic_bridge', '--ros-args', '--params-file', params_file,
                   '-r', '__ns:=/victor_cfg', '-p', f'port:={port_of(url)}')
    ros.wait_publishers('/victor_cfg/mic_direction')
    assert mic.wait_count(3)[0].header.frame_id == 'victor_mic'
    assert 'Traceback' not in bridge.output


def test_lifecycle_cycle_recreates_interfaces(procs: Callable[..., Proc], ros: ProbeNode) -> None:
    _, url = start_sim(procs, 0, '--rate', '50')
    mic = ros.subscribe(MicDirection, '/mic_lc/mic_direction')
    connected = ros.subscribe_latched(Bool, '/mic_lc/connected')
    bridge = start_bridge(procs, '/mic_lc', port=port_of(url))
    node = '/mic_lc/victor_mic_bridge'
    ros.wait_publishers('/mic_lc/mic_direction')
    mic.wait_count(5)
    assert ros.call(SetBool, '/mic_lc/set_recording', SetBool.Request(data=True)).success
    for transition in (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP):
        assert ros.lifecycle(node, transition)
    assert ros.lifecycle_state(node) == 'unconfigured'
    wait_for(lambda: not connected.last.data, 5, 'disconnected')
    for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        assert ros.lifecycle(node, transition)
    wait_for(lambda: connected.last.data, 10, 'connected again')
    count = len(mic)
    mic.wait_count(count + 20)
    # cleanup discarded the old recording and its flag: nothing was recorded since.
    response = ros.call(CompileMicResults, '/mic_lc/compile_results',
                        CompileMicResults.Request())
    assert not response.success and '0 samples recorded' in response.message
    assert 'Traceback' not in bridge.output


def test_max_publish_rate_paces_a_burst_in_order_and_loses_nothing(
        procs: Callable[..., Proc], ros: ProbeNode, sim_thread: Callable[..., SimThread]) -> None:
    server = sim_thread(autoplay=False)
    sim = server.sim
    mic = ros.subscribe(MicDirection, '/mic_paced/mic_direction')
    diagnostics = Diagnostics(ros)
    # An integer for the double parameter, as a user types it.
    start_bridge(procs, '/mic_paced', port=sim.port, max_publish_rate=200, qos_depth=1000)
    server.run(sim.wait_for_subscribers('micdata', timeout=15))
    ros.wait_publishers('/mic_paced/mic_direction')
    count, rate = 300, 200.0
    server.call(push_burst, sim, 0, count)
    messages = mic.wait_count(count, timeout=20)
    assert [m.robot_time for m in messages] == [float(n) for n in range(count)]
    span = mic.times[-1] - mic.times[0]
    # The first 10 ms of the rate pass at once; the rest is spread at the rate.
    assert span >= (count - 2) / rate * 0.9, f'{count} messages in {span:.2f} s'
    values = diagnostics.wait('/mic_paced/victor_mic_bridge',
                              lambda v: v['paced_waiting'] == '0')
    assert values['dropped'] == '0'


def test_deactivate_drops_and_counts_what_waits_and_nothing_stale_follows(
        procs: Callable[..., Proc], ros: ProbeNode, sim_thread: Callable[..., SimThread]) -> None:
    server = sim_thread(autoplay=False)
    sim = server.sim
    mic = ros.subscribe(MicDirection, '/mic_pdeact/mic_direction')
    diagnostics = Diagnostics(ros)
    bridge = start_bridge(procs, '/mic_pdeact', port=sim.port, max_publish_rate=20.0,
                          qos_depth=1000)
    node = '/mic_pdeact/victor_mic_bridge'
    server.run(sim.wait_for_subscribers('micdata', timeout=15))
    ros.wait_publishers('/mic_pdeact/mic_direction')
    server.call(push_burst, sim, 0, 100)
    mic.wait_count(3)
    assert ros.lifecycle(node, Transition.TRANSITION_DEACTIVATE)
    arrived = settle(mic)
    assert arrived < 100
    values = diagnostics.wait(node, lambda v: int(v['dropped']) > 0)
    assert int(values['dropped']) == 100 - arrived, values
    assert 'waiting for mic_direction' in bridge.output

    assert ros.lifecycle(node, Transition.TRANSITION_ACTIVATE)
    server.run(sim.wait_for_subscribers('micdata', timeout=15))
    server.call(push_burst, sim, 1000, 3)
    fresh = mic.wait_count(arrived + 3)[arrived:]
    assert [m.robot_time for m in fresh] == [1000.0, 1001.0, 1002.0]  # nothing stale
    assert 'Traceback' not in bridge.output
