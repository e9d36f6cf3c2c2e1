"""
reachy_bridge against the real Reachy 2019 SDK (PyPI reachy-2019 1.4.0), side by side.

The SDK's own websocket server (``reachy/io/ws.py`` WsServer, run by
``test/peers/reachy/sdk_peer.py`` in the peer's Python 3.8 environment) and the bridge are
each dialled by the same Unity-like client, given the same goals (joint degrees to the SDK,
as its users set them; radians to the bridge, as ROS users do) and sent the same replies,
byte for byte as the Unity client (pollen-robotics/reachy-unity-package 5256a33d,
``ReachyController.cs``) shapes them. The goal frames must match on the wire, and what the
SDK reports (present positions, grip forces, decoded camera frames) must equal what the
bridge publishes. Where the two are meant to differ, a test names the difference.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from typing import Any, Callable, Iterator

import pytest
from reachy_helpers import BY_NAME, degrees_of, dial, real_sdk, SdkPeer, start_bridge
from robot_bridges.protocols.reachy_joints import DEFAULT_JOINTS
from robot_bridges.sims.reachy_scene import render_jpeg, SceneState
from ros_helpers import ProbeNode, Proc, wait_for
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float32
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

BY_WIRE = {joint.wire_name: joint for joint in DEFAULT_JOINTS}
# Unity replies with its 18 motors, never the disks (ReachyController.GetCurrentState).
UNITY_MOTORS = [j.wire_name for j in DEFAULT_JOINTS if not j.is_disk]


@pytest.fixture
def sdk() -> Iterator[SdkPeer]:
    """Start the real SDK's server (skipped with a reason if absent; CI=true: fails)."""
    with real_sdk() as peer:
        yield peer


def unity_reply(present: dict[str, float], eyes: tuple[str, str],
                forces: tuple[float, float]) -> str:
    """Return a reply as Unity's JsonUtility writes it: its field order, all fields."""
    return json.dumps({
        'motors': [{'name': name, 'present_position': present[name]} for name in UNITY_MOTORS],
        'left_eye': eyes[0], 'right_eye': eyes[1],
        'left_force_sensor': forces[0], 'right_force_sensor': forces[1]})


def frame_items(frame: bytes | str) -> tuple[str, list[str], list[tuple[str, list[str], Any]]]:
    """Return a goal frame's type, top-level keys and entries (name, keys, value) in order."""
    kind = 'binary' if isinstance(frame, bytes) else 'text'
    value = json.loads(frame)
    entries = [(item['name'], list(item), item['goal_position'])
               for key in ('motors', 'disks') for item in value[key]]
    return kind, list(value), entries


def assert_same_frame(sdk_frame: bytes | str, bridge_frame: bytes | str) -> None:
    """Assert both frames carry the same keys, names, order and values (spacing aside)."""
    sdk_kind, sdk_keys, sdk_entries = frame_items(sdk_frame)
    kind, keys, entries = frame_items(bridge_frame)
    assert (kind, keys) == (sdk_kind, sdk_keys) == ('binary', ['motors', 'disks'])
    assert [e[:2] for e in entries] == [e[:2] for e in sdk_entries]
    for (name, _, value), (_, _, sdk_value) in zip(entries, sdk_entries):
        assert value == pytest.approx(sdk_value, abs=1e-9), name


def cycle(client: ClientConnection, reply: str) -> bytes | str:
    """Answer the last goal frame; return the next one."""
    client.send(reply)
    return client.recv(10)


def joint_goals() -> dict[str, float]:
    """Return one goal per joint, inside its bounds, in joint degrees (issue #19's among)."""
    goals = {j.name: j.min_deg + (j.max_deg - j.min_deg) * (0.2 + 0.6 * i / len(DEFAULT_JOINTS))
             for i, j in enumerate(DEFAULT_JOINTS)}
    goals.update({'l_elbow_pitch': -110.0, 'r_elbow_pitch': -80.0, 'l_shoulder_pitch': -90.0,
                  'r_shoulder_pitch': 80.0, 'l_shoulder_roll': 150.0, 'r_shoulder_roll': -150.0})
    return goals


def command(ros: ProbeNode, ns: str, degrees: dict[str, float]) -> None:
    """Publish the goals (in radians) on the bridge's joint_commands."""
    ros.publisher(JointState, f'{ns}/joint_commands').publish(JointState(
        name=list(degrees), position=[math.radians(v) for v in degrees.values()]))


def bridge_cycles_until(client: ClientConnection, reply: str,
                        done: Callable[[bytes | str], bool]) -> bytes | str:
    """Sync with the bridge until a goal frame satisfies ``done`` (commands travel by ROS)."""
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        frame = cycle(client, reply)
        if done(frame):
            return frame
        time.sleep(0.01)
    raise AssertionError('the bridge never sent the commanded goals')


def test_goal_frames_and_reported_values_match_the_real_sdk(
        sdk: SdkPeer, procs: Callable[..., Proc], ros: ProbeNode) -> None:
    ns = '/ry_conform'
    states = ros.subscribe(JointState, f'{ns}/joint_states')
    forces = {side: ros.subscribe(Float32, f'{ns}/{side}_force_sensor')
              for side in ('left', 'right')}
    eyes = {side: ros.subscribe(Image, f'{ns}/{side}_eye/image_raw') for side in ('left', 'right')}
    bridge, url = start_bridge(procs, ns)
    bridge.wait_output('listening on', 30)
    jpegs = [render_jpeg(side, SceneState(left_antenna=30, disks=(-50, -60, -40)))
             for side in ('left', 'right')]
    b64 = tuple(base64.b64encode(jpeg).decode() for jpeg in jpegs)
    with dial(f'ws://127.0.0.1:{sdk.port}') as to_sdk, dial(url) as to_bridge:
        # At rest: every joint at zero, the disks at -60, in the same frame.
        rest_sdk, rest_bridge = to_sdk.recv(10), to_bridge.recv(10)
        assert_same_frame(rest_sdk, rest_bridge)

        # The same goals, each side as its users give them: the wire carries the same.
        goals = joint_goals()
        sdk.ask('goals', goals={BY_NAME[name].wire_name: value for name, value in goals.items()})
        command(ros, ns, goals)
        at_rest = unity_reply({name: BY_WIRE[name].to_motor(0.0) for name in UNITY_MOTORS},
                              b64, (0.0, 0.0))
        sdk_frame = cycle(to_sdk, at_rest)
        expected = {BY_NAME[name].wire_name: BY_NAME[name].to_motor(value)
                    for name, value in goals.items()}
        bridge_frame = bridge_cycles_until(
            to_bridge, at_rest, lambda f: json.loads(f)['motors'][3]['goal_position'] != 0.0)
        bridge_frame = cycle(to_bridge, at_rest)  # every command of the message taken by now
        assert_same_frame(sdk_frame, bridge_frame)
        sent = {name: value for name, _, value in frame_items(bridge_frame)[2]}
        assert sent == pytest.approx(expected, abs=1e-9)
        assert sent['right_arm.elbow_pitch'] == pytest.approx(80.0)  # the docs' example

        # The same Unity reply to both: the positions they report are the same.
        present = {name: expected[name] - 1.5 for name in UNITY_MOTORS}
        reply = unity_reply(present, b64, (150.0, 0.0))
        ros.wait_publishers(f'{ns}/joint_states')
        ros.wait_publishers(f'{ns}/left_eye/image_raw')
        for _ in range(3):
            cycle(to_sdk, reply)
            cycle(to_bridge, reply)
        wait_for(lambda: eyes['left'].messages and eyes['right'].messages and
                 forces['left'].messages and forces['left'].last.data == 150.0, 10,
                 "the bridge's eyes and forces")
        reported = sdk.ask('state')
    published = degrees_of(states.last)
    for wire, value in reported['present'].items():
        assert published[BY_WIRE[wire].name] == pytest.approx(value, abs=1e-9), wire
    for wire, value in reported['disks'].items():  # no present position: the goal
        assert published[BY_WIRE[wire].name] == pytest.approx(value, abs=1e-9), wire
    assert len(published) == len(reported['present']) + len(reported['disks']) == 21
    assert (forces['left'].last.data, forces['right'].last.data) == (
        reported['force']['left'], reported['force']['right'])
    for side in ('left', 'right'):
        image, camera = eyes[side].last, reported['cameras'][side]
        assert [image.height, image.width, 3] == camera['shape'] == [240, 320, 3]
        assert hashlib.sha256(bytes(image.data)).hexdigest() == camera['sha256'], side
    # The fans are the arm's (reachy.left_arm.wrist_fan), as the bridge names them.
    assert reported['fans'] == sorted(['elbow_fan', 'shoulder_fan', 'wrist_fan'] * 2)
    assert bridge.returncode is None and 'Traceback' not in bridge.output


def test_where_the_bridge_differs_from_the_sdk_on_purpose(
        sdk: SdkPeer, procs: Callable[..., Proc], ros: ProbeNode) -> None:
    """Goals beyond the bounds, and a second client: each side's behaviour, named."""
    ns = '/ry_conform_diff'
    bridge, url = start_bridge(procs, ns)
    bridge.wait_output('listening on', 30)
    eyes = tuple(base64.b64encode(render_jpeg(side, SceneState())).decode()
                 for side in ('left', 'right'))
    rest = unity_reply({name: BY_WIRE[name].to_motor(0.0) for name in UNITY_MOTORS},
                       eyes, (0.0, 0.0))
    with dial(f'ws://127.0.0.1:{sdk.port}') as to_sdk, dial(url) as to_bridge:
        to_sdk.recv(10)
        to_bridge.recv(10)
        # Beyond the joint bounds: the SDK sends any goal (the motor, or Unity's drive, stops
        # at its limit); the bridge clamps to the bounds and counts it.
        beyond = {'l_elbow_pitch': 30.0, 'r_shoulder_roll': 40.0}
        sdk.ask('goals', goals={BY_NAME[n].wire_name: v for n, v in beyond.items()})
        command(ros, ns, beyond)
        sdk_sent = json.loads(cycle(to_sdk, rest))['motors']
        bridge_sent = json.loads(bridge_cycles_until(
            to_bridge, rest, lambda f: json.loads(f)['motors'][9]['goal_position'] != -90.0))
        bridge_sent = json.loads(cycle(to_bridge, rest))['motors']
        assert (sdk_sent[3]['name'], sdk_sent[3]['goal_position']) == \
            ('left_arm.elbow_pitch', -30.0)
        assert (sdk_sent[9]['name'], sdk_sent[9]['goal_position']) == \
            ('right_arm.shoulder_roll', -130.0)
        assert bridge_sent[3]['goal_position'] == pytest.approx(0.0)  # motor limit 0
        assert bridge_sent[9]['goal_position'] == pytest.approx(-100.0)  # motor limit -100
        bridge.wait_output('clamped 2 goal')

        # A second client: the SDK serves both at once, each its own sync loop; the bridge
        # serves one, the newest, and closes the older one with 4001.
        with dial(f'ws://127.0.0.1:{sdk.port}') as second_sdk, dial(url) as second_bridge:
            assert json.loads(second_sdk.recv(10))['motors'][3]['goal_position'] == -30.0
            json.loads(cycle(to_sdk, rest))  # the first still syncs
            second_bridge.recv(10)
            with pytest.raises(ConnectionClosed) as closed:
                cycle(to_bridge, rest)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001

            # An empty eye (what Unity's JsonUtility writes for a camera not rendered yet):
            # the SDK's sync loop fails on it (PIL cannot open b'') and ends the connection
            # with 1011; the bridge takes it as no eye this cycle.
            empty = unity_reply({name: BY_WIRE[name].to_motor(0.0) for name in UNITY_MOTORS},
                                ('', ''), (0.0, 0.0))
            with pytest.raises(ConnectionClosed) as closed:
                cycle(second_sdk, empty)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
            for _ in range(3):
                cycle(second_bridge, empty)
    assert 'eyes_rejected' not in bridge.output and 'Traceback' not in bridge.output
