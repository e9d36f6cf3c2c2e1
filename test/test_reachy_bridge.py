"""reachy_bridge end to end: bridge process, reachy_sim process (or a raw client), ROS probe."""

from __future__ import annotations

import base64
import math
from pathlib import Path
import re
import time
from typing import Any, Callable

from ament_index_python.packages import get_package_share_directory
import pytest
from reachy_helpers import (ALL_NAMES, BY_NAME, closed_code, degrees_of, dial, dial_accepted,
                            goals_of, next_goals, reply, start_bridge, start_sim)
from robot_bridges.sims.reachy_scene import render_jpeg, SceneState
from robot_bridges.srv import SetFan
from ros_helpers import Collector, Diagnostics, ProbeNode, Proc, wait_for
from sensor_msgs.msg import CompressedImage, Image, JointState
import simplejpeg
from std_msgs.msg import Bool, Float32
from websockets.exceptions import ConnectionClosed
import yaml


def command(publisher: Any, degrees: dict[str, float]) -> float:
    """Publish a joint command in degrees (sent as radians); return when it was sent."""
    publisher.publish(JointState(name=list(degrees),
                                 position=[math.radians(v) for v in degrees.values()]))
    return time.monotonic()


def converged(states: Collector[JointState], target: dict[str, float],
              tolerance: float = 0.01) -> int | None:
    """Index of the first joint_states message at ``target`` (degrees), else None."""
    for index, msg in enumerate(list(states.messages)):
        positions = degrees_of(msg)
        if all(abs(positions[name] - value) <= tolerance for name, value in target.items()):
            return index
    return None


def test_commands_move_the_simulator_within_its_speed_and_clamp(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    ns, speed = '/ry_move', 90.0
    states = ros.subscribe(JointState, f'{ns}/joint_states')
    diagnostics = Diagnostics(ros)
    bridge, url = start_bridge(procs, ns)
    start_sim(procs, url, '--speed-deg-s', str(speed), '--no-eyes')
    ros.wait_publishers(f'{ns}/joint_states')
    rest = degrees_of(states.wait_count(3)[-1])
    assert list(states.last.name) == ALL_NAMES
    for name, value in rest.items():  # at rest: joint zero, the disks at -60
        assert value == pytest.approx(BY_NAME[name].start_deg, abs=1e-9), name
    commands = ros.publisher(JointState, f'{ns}/joint_commands')

    # The elbows bend to negative joint degrees (motor 0 .. 125: joint -125 .. 0).
    target = {'l_shoulder_pitch': 45.0, 'r_elbow_pitch': -90.0, 'l_antenna': -60.0,
              'r_shoulder_roll': -30.0}
    states.messages.clear()
    states.times.clear()
    sent = command(commands, target)
    arrived = wait_for(lambda: converged(states, target) is not None and
                       converged(states, target), 30, 'joint_states at the goals')
    # No faster than the speed bound: 90 degrees at 90 deg/s take at least a second, and
    # no message shows a joint further from rest than the time since the command allows.
    assert states.times[arrived] - sent >= 0.95 * 90.0 / speed
    for msg, at in zip(list(states.messages), list(states.times)):
        for name, value in degrees_of(msg).items():
            assert abs(value - rest[name]) <= speed * (at - sent) + 0.5, name
    others = [name for name in ALL_NAMES if name not in target]
    assert all(degrees_of(states.last)[n] == pytest.approx(rest[n], abs=1e-9) for n in others)

    # A partial command moves only its joints.
    partial = {'r_elbow_pitch': -30.0}
    states.messages.clear()
    command(commands, partial)
    wait_for(lambda: converged(states, {**target, **partial}) is not None, 30,
             'the partial command')
    for name in others:
        assert degrees_of(states.last)[name] == pytest.approx(rest[name], abs=1e-9)

    # Limits clamp (counted); the disks report their goal at once (no present position).
    clamped = {'l_elbow_pitch': 30.0, 'l_gripper': 100.0, 'neck_disk_top': -20.0}
    command(commands, clamped)
    wait_for(lambda: converged(states, {'l_elbow_pitch': 0.0, 'l_gripper': 69.0,
                                        'neck_disk_top': -20.0}) is not None, 30, 'clamped')
    values = diagnostics.wait(f'{ns}/reachy_bridge', lambda v: v['goals_clamped'] == '2')
    assert values['commands'] == '3' and values['commands_rejected'] == '0'

    # Bad commands are refused whole, with a log line and a counter.
    command(commands, {'tail': 1.0})
    commands.publish(JointState(name=['l_antenna'], position=[math.nan]))
    commands.publish(JointState(name=['l_antenna', 'r_antenna'], position=[0.1]))
    values = diagnostics.wait(f'{ns}/reachy_bridge', lambda v: v['commands_rejected'] == '3')
    assert int(values['sync_rate_hz'].split('.')[0]) > 0 and values['client'] != 'none'
    assert float(values['cycle_p99_ms']) >= float(values['cycle_p50_ms']) > 0
    bridge.wait_output("rejected a joint command: unknown joint 'tail'")
    time.sleep(0.5)
    assert degrees_of(states.last)['l_antenna'] == pytest.approx(-60.0, abs=0.01)
    assert bridge.returncode is None and 'Traceback' not in bridge.output


def test_eyes_are_the_simulators_jpeg_bytes_decoded_only_when_watched(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    ns = '/ry_eyes'
    node = f'{ns}/reachy_bridge'
    left = ros.subscribe(CompressedImage, f'{ns}/left_eye/image_raw/compressed')
    right = ros.subscribe(CompressedImage, f'{ns}/right_eye/image_raw/compressed')
    diagnostics = Diagnostics(ros)
    bridge, url = start_bridge(procs, ns, frame_id_prefix='reachy_')
    start_sim(procs, url, '--rate', '100')
    ros.wait_publishers(f'{ns}/left_eye/image_raw/compressed')
    ros.wait_publishers(f'{ns}/right_eye/image_raw/compressed')
    left.wait_count(3)
    right.wait_count(3)
    # No command yet: the simulator renders the scene of the start goals.
    expected = {eye: render_jpeg(eye, SceneState()) for eye in ('left', 'right')}
    assert bytes(left.last.data) == expected['left']
    assert bytes(right.last.data) == expected['right']
    assert expected['left'] != expected['right']
    assert (left.last.format, left.last.header.frame_id) == ('jpeg', 'reachy_left_eye')
    assert right.last.header.frame_id == 'reachy_right_eye'
    unwatched = f'{len(expected["left"])} B'
    values = diagnostics.wait(node, lambda v: v['left_eye'] == unwatched)
    assert values['right_eye'] == f'{len(expected["right"])} B'  # not decoded: no size

    raw = ros.subscribe(Image, f'{ns}/left_eye/image_raw')
    ros.wait_publishers(f'{ns}/left_eye/image_raw')
    image = raw.wait_count(2)[-1]
    assert (image.width, image.height, image.encoding, image.step) == (320, 240, 'rgb8', 960)
    assert image.header.frame_id == 'reachy_left_eye'
    pixels = simplejpeg.decode_jpeg(expected['left'], colorspace='RGB')
    assert bytes(image.data) == pixels.tobytes()
    values = diagnostics.wait(node, lambda v: v['left_eye'] == f'320x240, {unwatched}')
    assert values['right_eye'] == f'{len(expected["right"])} B'  # still unwatched

    # A head goal changes what the eyes see, as the simulator renders it.
    commands = ros.publisher(JointState, f'{ns}/joint_commands')
    command(commands, {'l_antenna': 40.0, 'neck_disk_top': -30.0})
    moved = render_jpeg('left', SceneState(left_antenna=40, disks=(-60, -60, -30)))
    wait_for(lambda: bytes(left.last.data) == moved, 15, 'the eye after the command')
    assert int(diagnostics.values(node)['eye_frames']) > 0
    assert 'Traceback' not in bridge.output


def test_force_sensors_rise_while_a_gripper_squeezes_and_fans(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    ns = '/ry_force'
    node = f'{ns}/reachy_bridge'
    left = ros.subscribe(Float32, f'{ns}/left_force_sensor')
    right = ros.subscribe(Float32, f'{ns}/right_force_sensor')
    diagnostics = Diagnostics(ros)
    _, url = start_bridge(procs, ns)
    start_sim(procs, url, '--rate', '200', '--no-eyes')
    ros.wait_publishers(f'{ns}/left_force_sensor')
    ros.wait_publishers(f'{ns}/right_force_sensor')
    left.wait_count(3)
    assert left.last.data == 0.0 and right.wait_count(1)[-1].data == 0.0
    commands = ros.publisher(JointState, f'{ns}/joint_commands')
    command(commands, {'l_gripper': -40.0})  # past the closed end: clamped onto it
    # Unity's units (impulse x 10000): the SDK's grasp detection waits for 100.
    wait_for(lambda: left.last.data >= 100.0, 15, 'the left force to rise')
    assert right.last.data == 0.0
    command(commands, {'l_gripper': 30.0})  # open: the force falls back
    wait_for(lambda: left.last.data == 0.0, 15, 'the left force to fall')

    on = ros.call(SetFan, f'{ns}/set_fan',
                  SetFan.Request(name='left_arm.shoulder_fan', enabled=True))
    assert on.success and 'left_arm.shoulder_fan on' in on.message
    unknown = ros.call(SetFan, f'{ns}/set_fan', SetFan.Request(name='head.fan', enabled=True))
    assert not unknown.success
    assert "unknown fan 'head.fan'" in unknown.message
    assert 'right_arm.wrist_fan' in unknown.message and '.hand.' not in unknown.message
    # The SDK's name (reachy.right_arm.wrist_fan), and the old hand-scoped one as an alias.
    wrist = ros.call(SetFan, f'{ns}/set_fan',
                     SetFan.Request(name='right_arm.wrist_fan', enabled=True))
    assert wrist.success and 'right_arm.wrist_fan on' in wrist.message
    alias = ros.call(SetFan, f'{ns}/set_fan',
                     SetFan.Request(name='left_arm.hand.wrist_fan', enabled=True))
    assert alias.success and 'left_arm.wrist_fan on' in alias.message
    values = diagnostics.wait(node, lambda v: 'left_arm.wrist_fan=on' in v['fans'])
    assert 'right_arm.elbow_fan=off' in values['fans']
    assert 'left_arm.shoulder_fan=on' in values['fans'] and 'right_arm.wrist_fan=on' in \
        values['fans']


def test_a_raw_client_sees_motor_frame_goals_and_forces_default_to_nan(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    ns = '/ry_raw'
    states = ros.subscribe(JointState, f'{ns}/joint_states')
    force = ros.subscribe(Float32, f'{ns}/left_force_sensor')
    bridge, url = start_bridge(procs, ns, parts=['left_arm', 'head'], binary_goals=False)
    commands = ros.publisher(JointState, f'{ns}/joint_commands')
    command(commands, {'l_shoulder_pitch': 30.0, 'l_shoulder_roll': 10.0})
    time.sleep(0.5)  # the command reaches the loop before the client: its first frame has it
    with dial(url) as client:
        frame = client.recv(10)
        assert isinstance(frame, str)  # binary_goals false: text frames
        goals = goals_of(frame)
        # Only the present parts; motor-frame degrees: (joint + offset) * sign.
        assert set(goals) == {j.wire_name for j in BY_NAME.values()
                              if j.part in ('left_arm', 'head')}
        assert goals['left_arm.shoulder_pitch'] == pytest.approx(120.0)
        assert goals['left_arm.shoulder_roll'] == pytest.approx(80.0)  # indirect, offset -90
        assert goals['left_arm.elbow_pitch'] == 0.0
        assert goals['head.disk_bottom'] == -60.0
        client.send(reply({'left_arm.elbow_pitch': 45.0, 'head.left_antenna': 12.0,
                           'right_arm.elbow_pitch': 1.0}))  # a known motor of a missing part
        next_goals(client)
        ros.wait_publishers(f'{ns}/joint_states')
        for _ in range(3):
            client.send(reply({}))
            next_goals(client)
        positions = degrees_of(states.wait_count(1)[-1])
    assert list(states.last.name) == [n for n in ALL_NAMES
                                      if BY_NAME[n].part in ('left_arm', 'head')]
    assert positions['l_elbow_pitch'] == pytest.approx(-45.0)  # indirect
    assert positions['l_antenna'] == pytest.approx(12.0)
    # Never reported: a motor stays at its start; a disk reports its goal.
    assert positions['l_shoulder_pitch'] == pytest.approx(0.0)
    assert positions['neck_disk_middle'] == pytest.approx(-60.0)
    assert math.isnan(force.wait_count(1)[-1].data)
    assert 'unknown motor names' not in bridge.output


def test_every_joints_full_range_reaches_the_wire_and_only_beyond_it_is_clamped(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    ns = '/ry_range'
    node = f'{ns}/reachy_bridge'
    diagnostics = Diagnostics(ros)
    bridge, url = start_bridge(procs, ns)
    commands = ros.publisher(JointState, f'{ns}/joint_commands')
    joints = list(BY_NAME.values())

    def wire_after(degrees: dict[str, float], client: Any) -> dict[str, float]:
        command(commands, degrees)
        expected = {BY_NAME[n].wire_name: BY_NAME[n].to_motor(BY_NAME[n].clamp(v))
                    for n, v in degrees.items()}

        def arrived() -> dict[str, float] | None:
            client.send(reply({}))
            goals = next_goals(client)
            return goals if all(abs(goals[k] - v) < 1e-9 for k, v in expected.items()) \
                else None
        return wait_for(arrived, 15, f'the goals {degrees}')

    with dial(url) as client:
        client.recv(10)
        lows = wire_after({j.name: j.min_deg for j in joints}, client)
        highs = wire_after({j.name: j.max_deg for j in joints}, client)
        # The docs' example: r_elbow_pitch -80 degrees leaves as 80.
        example = wire_after({'r_elbow_pitch': -80.0}, client)
        assert example['right_arm.elbow_pitch'] == pytest.approx(80.0, abs=1e-9)
        assert diagnostics.wait(node, lambda v: v['commands'] == '3')['goals_clamped'] == '0'
        wire_after({j.name: j.min_deg - 5.0 for j in joints}, client)
        assert diagnostics.wait(node, lambda v: v['commands'] == '4')['goals_clamped'] == \
            str(len(joints))
    for joint in joints:  # the bounds land on the motor limits, one way round or the other
        ends = sorted((lows[joint.wire_name], highs[joint.wire_name]))
        assert ends == pytest.approx([joint.motor_min_deg, joint.motor_max_deg], abs=1e-9)
    assert 'Traceback' not in bridge.output


def test_a_newer_client_takes_over_and_clients_come_and_go(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    ns = '/ry_clients'
    node = f'{ns}/reachy_bridge'
    states = ros.subscribe(JointState, f'{ns}/joint_states')
    connected = ros.subscribe_latched(Bool, f'{ns}/connected')
    diagnostics = Diagnostics(ros)
    bridge, url = start_bridge(procs, ns)
    sim = start_sim(procs, url, '--rate', '200', '--no-eyes')
    ros.wait_publishers(f'{ns}/joint_states')
    states.wait_count(5)
    # One client at a time, the newest winning: the syncing simulator is closed with 4001
    # and, although it reconnects after other closes, does not come back to fight.
    with dial(url) as second:
        first_goals = next_goals(second)
        assert first_goals['head.disk_top'] == -60.0
        sim.wait_output(r'disconnected \(closed with code 4001 \(replaced by a newer client '
                        r'from 127\.0\.0\.1:\d+\)\)')
        sim.wait_output('a newer client took over; not reconnecting')
        assert sim.wait_exit(10) == 0
        for _ in range(5):
            second.send(reply({'head.left_antenna': 21.0}))
            next_goals(second)
        wait_for(lambda: degrees_of(states.last)['l_antenna'] == pytest.approx(21.0), 10,
                 'the new client heard')
        values = diagnostics.wait(node, lambda v: v['clients_replaced'] == '1')
        assert values['clients_refused'] == '0' and values['connected'] == 'true'
    bridge.wait_output(r'127\.0\.0\.1:\d+ replaces 127\.0\.0\.1:\d+: one peer at a time, '
                       'the newest wins')
    wait_for(lambda: not connected.last.data, 10, 'connected == false')
    bridge.wait_output('waiting for the next client')
    commands = ros.publisher(JointState, f'{ns}/joint_commands')
    command(commands, {'r_antenna': 33.0})  # while nobody is connected
    time.sleep(0.5)
    client, first = dial_accepted(url)
    with client:
        assert goals_of(first)['head.right_antenna'] == pytest.approx(33.0)
        wait_for(lambda: connected.last.data, 10, 'connected again')
    wait_for(lambda: not connected.last.data, 10, 'connected == false')

    start_sim(procs, url, '--rate', '200', '--no-eyes')
    wait_for(lambda: converged(states, {'r_antenna': 33.0}) is not None and
             connected.last.data, 20, 'the goal reached through the new client')
    assert int(diagnostics.wait(node, lambda v: int(v['reconnects']) >= 2)['reconnects']) >= 2
    assert bridge.returncode is None and 'Traceback' not in bridge.output


def test_a_silent_client_is_kept_reported_and_replaced_by_a_new_one(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    ns = '/ry_silent'
    node = f'{ns}/reachy_bridge'
    diagnostics = Diagnostics(ros)
    bridge, url = start_bridge(procs, ns, client_timeout_s=0.5)
    with dial(url) as client:
        next_goals(client)
        # Silent for three timeouts: warned about once, still connected.
        bridge.wait_output(r'sent no reply for \d+\.\d s \(client_timeout_s 0.5\): still '
                           'waiting for it')
        values = diagnostics.wait(node, lambda v: float(v['client_silent_s']) >= 1.5)
        assert values['connected'] == 'true' and values['clients_silent'] == '1'
        assert values['_message'].startswith('connected, but client silent for '), values
        client.send(reply({'head.left_antenna': 3.0}))  # it answers: the loop goes on
        next_goals(client)
        bridge.wait_output(r'answers again after \d+\.\d s')
        # Silent again (a new silence, warned about again), then Unity is restarted: the
        # newest client wins.
        diagnostics.wait(node, lambda v: v['clients_silent'] == '2')
        with dial(url) as restarted:
            next_goals(restarted)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    client.recv(10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
            assert closed.value.rcvd.reason.startswith('replaced by a newer client from ')
            restarted.send(reply({}))
            next_goals(restarted)
    values = diagnostics.wait(node, lambda v: v['clients_replaced'] == '1')
    assert bridge.returncode is None and 'Traceback' not in bridge.output


def test_a_paused_unity_is_kept_and_a_restarted_one_always_gets_through(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    """reachy_sim --once connects one time, as the real Unity client does: nothing retries."""
    ns = '/ry_pause'
    node = f'{ns}/reachy_bridge'
    states = ros.subscribe(JointState, f'{ns}/joint_states')
    diagnostics = Diagnostics(ros)
    bridge, url = start_bridge(procs, ns, client_timeout_s=0.5)
    bridge.wait_output('listening on', 30)
    unity = start_sim(procs, url, '--once', '--rate', '100', '--no-eyes', '--pause-after', '30',
                      '--pause-s', '2')
    unity.wait_output('pausing 2 s after 30 replies', 30)
    bridge.wait_output(re.escape('still waiting for it (a paused Unity?)'))
    unity.wait_output('resuming')
    ros.wait_publishers(f'{ns}/joint_states')
    count = len(states)
    states.wait_count(count + 30)  # the same connection syncs again
    values = diagnostics.wait(node, lambda v: v['clients_silent'] == '1')
    assert values['reconnects'] == '0' and values['connected'] == 'true'
    # Unity restarted while the old one still holds its connection: the newest wins.
    restarted = start_sim(procs, url, '--once', '--rate', '100', '--no-eyes')
    unity.wait_output(re.escape('closed with code 4001 (replaced by a newer client from '))
    assert unity.wait_exit(10) == 0  # --once: it does not come back
    restarted.wait_output('connected to ')
    count = len(states)
    states.wait_count(count + 30)
    assert restarted.returncode is None
    assert diagnostics.wait(node, lambda v: v['clients_replaced'] == '1')['connected'] == 'true'
    assert bridge.returncode is None and 'Traceback' not in bridge.output


def test_bad_replies_are_counted_and_the_loop_continues(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    ns = '/ry_bad'
    node = f'{ns}/reachy_bridge'
    states = ros.subscribe(JointState, f'{ns}/joint_states')
    left_eye = ros.subscribe(CompressedImage, f'{ns}/left_eye/image_raw/compressed')
    connected = ros.subscribe_latched(Bool, f'{ns}/connected')
    diagnostics = Diagnostics(ros)
    bridge, url = start_bridge(procs, ns)
    not_jpeg = base64.b64encode(b'GIF89a not a jpeg').decode()
    whole = ['not json', '[1]', '{}', '{"motors": 5}', b'\xff\xfe binary, not UTF-8',
             '[' * 50_000 + ']' * 50_000]
    # A position that is no finite number costs that joint only, as a bad eye costs the eye.
    partial = [reply({}, left_eye='@@ not base64'), reply({}, left_eye=not_jpeg),
               reply({}, left_eye=17), reply({}, right_force_sensor='strong'),
               '{"motors": [{"name": "head.left_antenna", "present_position": "12"}]}',
               '{"motors": [{"name": "head.left_antenna", "present_position": NaN}, '
               '{"name": "head.right_antenna", "present_position": 4.0}]}',
               reply({'tail.wag': 1.0, 'head.left_antenna': 5.0})]
    with dial(url) as client:
        first = client.recv(10)
        assert isinstance(first, bytes)  # binary_goals default: binary frames
        ros.wait_publishers(f'{ns}/joint_states')
        for frame in whole + partial:
            client.send(frame)
            next_goals(client)  # the loop continues
        values = diagnostics.wait(node, lambda v: v['unknown_motor_names'] == '1')
        # Oversize: the server closes with 1009 and waits for the next client.
        client.send('x' * (5 << 20))
        assert closed_code(client) == 1009
    assert values['replies_rejected'] == str(len(whole))
    assert values['eyes_rejected'] == '3' and values['forces_rejected'] == '1'
    assert values['positions_rejected'] == '2'
    assert int(values['decode_errors']) == len(whole) + len(partial)
    assert len(left_eye) == 0  # nothing that was not a JPEG was published
    # The partial replies were used: the antennas' present positions arrived.
    wait_for(lambda: states.messages and
             degrees_of(states.last)['l_antenna'] == pytest.approx(5.0), 10, 'antenna')
    assert degrees_of(states.last)['r_antenna'] == pytest.approx(4.0)
    wait_for(lambda: connected.messages and not connected.last.data, 10, 'disconnected')
    client, _ = dial_accepted(url)
    with client:
        client.send(reply({'head.left_antenna': 7.0}))
        next_goals(client)
    wait_for(lambda: degrees_of(states.last)['l_antenna'] == pytest.approx(7.0), 10, 'again')
    diagnostics.wait(node, lambda v: int(v['decode_errors']) == len(whole) + len(partial) + 1)
    output = bridge.output
    # One line per kind per second: the first of each kind is logged.
    for line in ('rejected a reply: not JSON', 'skipped part of a reply: left_eye is not base64',
                 "unknown motor names: skipped 1 ('tail.wag')",
                 'received a frame over max_message_bytes'):
        assert line in output, line
    assert bridge.returncode is None and 'Traceback' not in output


def test_the_simulators_chaos_is_survived(procs: Callable[..., Proc], ros: ProbeNode) -> None:
    ns = '/ry_chaos'
    states = ros.subscribe(JointState, f'{ns}/joint_states')
    diagnostics = Diagnostics(ros)
    bridge, url = start_bridge(procs, ns)
    start_sim(procs, url, '--chaos', '0.3', '--rate', '300', '--no-eyes')
    ros.wait_publishers(f'{ns}/joint_states')
    states.wait_count(200, 30)
    values = diagnostics.wait(f'{ns}/reachy_bridge',
                              lambda v: int(v['replies_rejected']) > 10 and
                              int(v['eyes_rejected']) > 5 and
                              int(v['unknown_motor_names']) > 3)
    assert values['connected'] == 'true' and values['reconnects'] == '0'
    assert bridge.returncode is None and 'Traceback' not in bridge.output


def test_params_file_with_a_changed_joint_table(
        procs: Callable[..., Proc], ros: ProbeNode, tmp_path: Path) -> None:
    installed = Path(get_package_share_directory('robot_bridges')) / 'config' / 'reachy.yaml'
    config = yaml.safe_load(installed.read_text())
    table = config['/**/reachy_bridge']['ros__parameters']['joints']
    table['left_arm']['hand']['gripper'].update(name='left_gripper', motor_max_deg=30.0)
    params_file = tmp_path / 'reachy.yaml'
    params_file.write_text(yaml.safe_dump(config))
    ns = '/ry_cfg'
    states = ros.subscribe(JointState, f'{ns}/joint_states')
    bridge = procs('reachy_bridge', '--ros-args', '--params-file', str(params_file),
                   '-r', f'__ns:={ns}', '-p', 'port:=0')
    url = bridge.wait_output(r'listening on (ws://\S+)', 20).group(1)
    start_sim(procs, url, '--rate', '100', '--no-eyes')
    ros.wait_publishers(f'{ns}/joint_states')
    names = list(states.wait_count(1)[-1].name)
    assert names == [('left_gripper' if n == 'l_gripper' else n) for n in ALL_NAMES]
    commands = ros.publisher(JointState, f'{ns}/joint_commands')
    command(commands, {'left_gripper': 60.0})
    wait_for(lambda: converged(states, {'left_gripper': 30.0}) is not None, 20, 'new limit')
    assert 'Traceback' not in bridge.output


@pytest.mark.parametrize('params, message', [
    ({'parts': ['left_arm', 'torso']}, "parts: unknown ['torso']"),
    ({'joints.head.left_antenna.motor_min_deg': 10.0,
      'joints.head.left_antenna.motor_max_deg': 0.0},
     "joint 'head.left_antenna': motor_min_deg 10.0 exceeds motor_max_deg 0.0"),
    ({'joints.head.left_antenna.name': 'r_antenna'}, "name 'r_antenna' appears twice"),
])
def test_an_invalid_configuration_fails_configure(procs: Callable[..., Proc],
                                                  params: dict[str, Any], message: str) -> None:
    bridge, _ = start_bridge(procs, '/ry_invalid', **params)
    assert bridge.wait_exit(30) == 1
    assert message in bridge.output and 'Traceback' not in bridge.output


def test_a_bad_parameter_value_exits_2(procs: Callable[..., Proc]) -> None:
    bridge, _ = start_bridge(procs, '/ry_invalid', client_timeout_s=-1.0)
    assert bridge.wait_exit(30) == 2
    assert "parameter 'client_timeout_s'" in bridge.output
