"""
Both Victor bridges against victor_sim in its firmware mode (issue #18), time scaled down.

The robot never answers a websocket ping and closes a client silent for an hour; the
bridges stay up by the webViz keepalive. Also: a production build's missing micdata, one
``connected`` per link, requests the engine could crash on, and the rviz pose.
"""

from __future__ import annotations

import json
import math
import time
from typing import Callable

from geometry_msgs.msg import PoseStamped
import pytest
from robot_bridges.msg import MicDirection
from robot_bridges.sims.civetweb import Firmware
from robot_bridges.sims.victor_sim import make_micdata
from robot_bridges.translate.victor_mic import azimuth
from ros_helpers import Diagnostics, ProbeNode, Proc, wait_for
from sim_helpers import sim_thread_fixture, SimThread  # noqa: F401 - a fixture
from std_msgs.msg import Bool, String

# The robot's dead-link rule scaled: ping_interval_s + ping_timeout_s is 40 s on the robot,
# 1 s here; the keepalive (10 s on the robot) keeps the same ratio.
SCALED = {'ping_interval_s': 0.5, 'ping_timeout_s': 0.5, 'reconnect_min_s': 0.1,
          'reconnect_max_s': 0.3}
KEEPALIVE_S = 0.25
# 2 minutes of a quiet engine link are 3 dead-link periods: 3 s here; watch for 4 s.
QUIET_S = 4.0
# The robot's one hour without a byte from the client, scaled.
HOUR_S = 1.5


def test_a_quiet_engine_link_stays_up_on_keepalives_and_dies_without(
        procs: Callable[..., Proc], ros: ProbeNode,
        sim_thread: Callable[..., SimThread]) -> None:
    # autoplay off: the engine pushes nothing at all, for longer than the dead-link time.
    server = sim_thread(autoplay=False)
    sim = server.sim
    diagnostics = Diagnostics(ros)
    kept = procs('webviz_bridge', namespace='/vl_quiet',
                 params={'port': sim.port, 'modules': ['behaviors'],
                         'keepalive_interval_s': KEEPALIVE_S, **SCALED})
    bare = procs('webviz_bridge', namespace='/vl_bare',
                 params={'port': sim.port, 'modules': ['intents'],
                         'keepalive_interval_s': 0.0, **SCALED})
    server.run(sim.wait_for_subscribers('behaviors', timeout=15))
    server.run(sim.wait_for_subscribers('intents', timeout=15))
    connected = diagnostics.wait('/vl_quiet/webviz_bridge', lambda v: v['connected'] == 'true')
    assert connected['link_aborts'] == '0'
    answered = sim.keepalives
    time.sleep(QUIET_S)
    values = diagnostics.wait('/vl_quiet/webviz_bridge', lambda v: True)
    assert values['link_aborts'] == '0' and values['reconnects'] == '0', values
    assert values['connected'] == 'true'
    assert sim.keepalives - answered >= QUIET_S / KEEPALIVE_S * 0.5
    # Without the keepalive the same quiet link is aborted every dead-link period.
    bare_values = diagnostics.wait('/vl_bare/webviz_bridge',
                                   lambda v: int(v['link_aborts']) >= 2)
    assert 'nothing received for' in bare_values['last_error'] or \
        'nothing received for' in bare.output
    for bridge in (kept, bare):
        assert 'Traceback' not in bridge.output


def test_the_one_hour_silence_close_never_comes_while_the_keepalive_runs(
        procs: Callable[..., Proc], ros: ProbeNode,
        sim_thread: Callable[..., SimThread]) -> None:
    # micdata flows all the time: the bridge listens and never needs to ping.
    kept_sim = sim_thread(rate_hz=20.0, firmware=Firmware(client_timeout_s=HOUR_S))
    bare_sim = sim_thread(rate_hz=20.0, firmware=Firmware(client_timeout_s=HOUR_S))
    diagnostics = Diagnostics(ros)
    kept = procs('victor_mic_bridge', namespace='/vl_hour',
                 params={'port': kept_sim.sim.port, 'keepalive_interval_s': 0.3})
    bare = procs('victor_mic_bridge', namespace='/vl_hour_bare',
                 params={'port': bare_sim.sim.port, 'keepalive_interval_s': 0.0,
                         'reconnect_min_s': 0.1, 'reconnect_max_s': 0.3})
    kept_sim.run(kept_sim.sim.wait_for_subscribers('micdata', timeout=15))
    time.sleep(3 * HOUR_S)
    values = diagnostics.wait('/vl_hour/victor_mic_bridge', lambda v: True)
    assert kept_sim.sim.drops == [] and values['reconnects'] == '0', values
    assert int(values['messages_in']) > 40
    bare_values = diagnostics.wait('/vl_hour_bare/victor_mic_bridge',
                                   lambda v: int(v['reconnects']) >= 2, timeout=20)
    assert bare_sim.sim.drops and 'nothing received from the client' in bare_sim.sim.drops[0]
    assert bare_values['link_aborts'] == '0'  # the robot closed it; nothing looked dead
    for bridge in (kept, bare):
        assert 'Traceback' not in bridge.output


def test_a_production_robot_connects_and_the_missing_micdata_is_explained(
        procs: Callable[..., Proc], ros: ProbeNode,
        sim_thread: Callable[..., SimThread]) -> None:
    server = sim_thread(micdata=False)
    sim = server.sim
    diagnostics = Diagnostics(ros)
    bridge = procs('victor_mic_bridge', namespace='/vl_prod',
                   params={'port': sim.port, 'micdata_timeout_s': 0.5})
    node = '/vl_prod/victor_mic_bridge'
    server.run(sim.wait_for_subscribers('micdata', timeout=15))
    values = diagnostics.wait(node, lambda v: 'development builds' in v['_message'])
    assert values['connected'] == 'true' and values['_message'].startswith('connected, but')
    assert values['micdata_seen'] == 'false'
    bridge.wait_output('no micdata 0.5 s after subscribing: the robot sends micdata only on '
                       'development builds', 5)
    # The node kept waiting: the first push clears the warning.
    server.call(sim.push, 'micdata', make_micdata(1.0, 4, 120))
    values = diagnostics.wait(node, lambda v: v['_message'] == 'connected')
    assert values['micdata_seen'] == 'true' and values['reconnects'] == '0'
    assert 'Traceback' not in bridge.output


def test_one_connected_per_link_requests_checked_and_the_pose(
        procs: Callable[..., Proc], ros: ProbeNode,
        sim_thread: Callable[..., SimThread]) -> None:
    anim = sim_thread(autoplay=False)
    engine = sim_thread(autoplay=False)
    ns = '/vl_both'
    shared = ros.subscribe_latched(Bool, f'{ns}/connected')
    mic_link = ros.subscribe_latched(Bool, f'{ns}/victor_mic_bridge/connected')
    engine_link = ros.subscribe_latched(Bool, f'{ns}/webviz_bridge/connected')
    pose = ros.subscribe(PoseStamped, f'{ns}/mic_direction/pose')
    diagnostics = Diagnostics(ros)
    mic = procs('victor_mic_bridge', namespace=ns, params={'port': anim.sim.port})
    webviz = procs('webviz_bridge', namespace=ns,
                   params={'port': engine.sim.port, 'modules': ['intents', 'behaviors'],
                           'reconnect_min_s': 0.1, 'reconnect_max_s': 0.3})
    wait_for(lambda: mic_link.messages and mic_link.last.data, 15, 'the mic link up')
    wait_for(lambda: engine_link.messages and engine_link.last.data, 15, 'the engine link up')
    wait_for(lambda: shared.messages and shared.last.data, 5, f'{ns}/connected true')
    # One writer of the namespace's connected: victor_mic_bridge.
    publishers = ros.node.get_publishers_info_by_topic(f'{ns}/connected')
    assert [info.node_name for info in publishers] == ['victor_mic_bridge']

    # Requests the engine would crash on never leave the bridge; a good one does.
    engine.run(engine.sim.wait_for_subscribers('intents', timeout=15))
    intents = ros.publisher(String, f'{ns}/webviz/intents/request')
    behaviors = ros.publisher(String, f'{ns}/webviz/behaviors/request')
    intents.publish(String(data='{"intentType": {"x": 1}, "request": "play_fistbump"}'))
    behaviors.publish(String(data='{"behaviorName": ["FistBump"]}'))
    intents.publish(String(data='{"intentType": "user", "request": "play_fistbump"}'))
    wait_for(lambda: len(engine.sim.requests) >= 1, 10, 'the good request at the robot')
    values = diagnostics.wait(f'{ns}/webviz_bridge', lambda v: v['requests_refused'] == '2')
    assert values['decode_errors'] == '2'
    assert [r.data for r in engine.sim.requests] == [
        {'intentType': 'user', 'request': 'play_fistbump'}]
    # One line per kind of bad input per second: the first refusal is the one logged.
    webviz.wait_output('rejected a request for intents: intents request "intentType" is JSON '
                       'object, not a string', 5)

    # A known direction is an arrow in rviz; an unknown one publishes no pose.
    anim.run(anim.sim.wait_for_subscribers('micdata', timeout=15))
    ros.wait_publishers(f'{ns}/mic_direction/pose')
    for robot_time, direction in ((1.0, 3), (2.0, 12), (3.0, 0)):
        anim.call(anim.sim.push, 'micdata', make_micdata(robot_time, direction, 100))
    poses = pose.wait_count(2)
    time.sleep(0.3)
    assert len(pose) == 2
    for msg, direction in zip(poses, (3, 0)):
        q = msg.pose.orientation
        yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y ** 2 + q.z ** 2))
        assert yaw == pytest.approx(azimuth(direction), abs=1e-6)
        assert msg.header.frame_id == 'victor_mic'
        assert (msg.pose.position.x, msg.pose.position.y, msg.pose.position.z) == (0, 0, 0)

    # The engine link goes down: only its own connected says so.
    engine.run(engine.sim.close())
    wait_for(lambda: not engine_link.last.data, 10, 'the engine link down')
    time.sleep(0.3)
    assert mic_link.last.data and shared.last.data
    for bridge in (mic, webviz):
        assert 'Traceback' not in bridge.output


def test_the_new_micdata_fields_reach_the_message(
        procs: Callable[..., Proc], ros: ProbeNode,
        sim_thread: Callable[..., SimThread]) -> None:
    server = sim_thread(autoplay=False)
    sim = server.sim
    mic = ros.subscribe(MicDirection, '/vl_fields/mic_direction')
    procs('victor_mic_bridge', namespace='/vl_fields', params={'port': sim.port})
    server.run(sim.wait_for_subscribers('micdata', timeout=15))
    ros.wait_publishers('/vl_fields/mic_direction')
    data = {**make_micdata(5.0, 9, 150, 'direction'), 'selectedDirection': 8,
            'maxConfidence': 1234.5, 'delayTime': 17, 'latestPowerValue': 135000.25,
            'latestNoiseFloor': 1180.5,
            'beatDetector': {'confidence': 0.75, 'tempo_bpm': 120.5}}
    server.call(sim.push, 'micdata', json.loads(json.dumps(data)))
    msg = mic.wait_count(1)[0]
    assert (msg.direction, msg.selected_direction, msg.delay_time_ms) == (9, 8, 17)
    assert (msg.max_confidence, msg.latest_power_value, msg.latest_noise_floor) == \
        (1234.5, 135000.25, 1180.5)
    assert (msg.beat_confidence, msg.beat_tempo_bpm) == (0.75, 120.5)
