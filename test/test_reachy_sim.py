"""reachy_sim without sockets (motion, eyes, forces, chaos) and against a real server."""

from __future__ import annotations

import asyncio
from functools import partial
import json

import async_helpers
from async_helpers import Recorder, WAIT_S
import pytest
from robot_bridges.protocols.reachy import GoalEncoder, parse_reply
from robot_bridges.protocols.reachy_joints import DEFAULT_JOINTS
from robot_bridges.runtime.websocket_server import (REPLACED_CODE, WebSocketServer,
                                                    WebSocketServerConfig)
from robot_bridges.sims.reachy_scene import render_jpeg, SceneState
from robot_bridges.sims.reachy_sim import (CHAOS_REPLIES, FORCE_CONTACT_MIN, FORCE_MAX,
                                           parse_args, ReachySim, run_client, Session,
                                           SimOptions, UNITY_DRIVE_LIMITS)

WIRE = [j.wire_name for j in DEFAULT_JOINTS]
KNOWN = set(WIRE)
MOTORS = [j.wire_name for j in DEFAULT_JOINTS if not j.is_disk]
DISKS = [j.wire_name for j in DEFAULT_JOINTS if j.is_disk]
ENCODER = GoalEncoder(MOTORS, DISKS)
START = {j.wire_name: j.to_motor(j.start_deg) for j in DEFAULT_JOINTS}
run = partial(async_helpers.run, timeout=20.0)


def frame(**goals: float) -> bytes:
    values = {**START, **{name.replace('__', '.'): v for name, v in goals.items()}}
    return ENCODER.encode([values[name] for name in MOTORS + DISKS])  # type: ignore[return-value]


def test_answers_with_every_motor_and_no_disk_by_default() -> None:
    sim = ReachySim(SimOptions(eyes=False))
    text = sim.answer(frame(), 0.0)
    reply = parse_reply(text, KNOWN)
    assert reply.present == {name: START[name] for name in MOTORS}
    assert (reply.left_force, reply.right_force) == (0.0, 0.0)
    assert reply.left_eye is None and not reply.problems
    # Every field of Unity's SerializableState, always: no eyes yet is an empty string.
    assert json.loads(text).keys() == {'motors', 'left_eye', 'right_eye', 'left_force_sensor',
                                       'right_force_sensor'}
    assert json.loads(text)['left_eye'] == ''
    with_disks = ReachySim(SimOptions(eyes=False, disks=True, forces=False))
    reply = parse_reply(with_disks.answer(frame(), 0.0), KNOWN)
    assert reply.present['head.disk_top'] == -60.0 and reply.left_force is None


def test_positions_move_toward_the_goals_at_the_speed_bound() -> None:
    sim = ReachySim(SimOptions(eyes=False, speed_deg_s=100.0))
    goal = frame(head__left_antenna=50.0, left_arm__shoulder_pitch=80.0)
    sim.answer(goal, 0.0)
    moved = parse_reply(sim.answer(goal, 0.1), KNOWN).present
    assert moved['head.left_antenna'] == pytest.approx(10.0)  # 100 deg/s for 0.1 s
    assert moved['left_arm.shoulder_pitch'] == pytest.approx(80.0)  # from 90: 10 away
    assert moved['head.right_antenna'] == 0.0
    # A long pause moves at most MAX_STEP_S worth.
    paused = parse_reply(sim.answer(goal, 100.0), KNOWN).present
    assert paused['head.left_antenna'] == pytest.approx(20.0)
    for now in range(10):
        final = parse_reply(sim.answer(goal, 100.1 + now * 0.1), KNOWN).present
    assert final['head.left_antenna'] == 50.0


def test_force_rises_while_a_gripper_is_closed_on_its_limit() -> None:
    sim = ReachySim(SimOptions(eyes=False, speed_deg_s=1000.0))
    squeeze = frame(left_arm__hand__gripper=-20.0)
    forces = [parse_reply(sim.answer(squeeze, t * 0.05), KNOWN).left_force
              for t in range(40)]
    # Unity's units: no contact 0, contact at least 100 (impulse 0.01 x 10000), which is
    # the SDK's grasp threshold.
    assert forces[0] == 0.0 and forces[-1] == FORCE_MAX
    touching = [f for f in forces if f]
    assert touching and min(touching) >= FORCE_CONTACT_MIN == 100.0
    assert all(b >= a for a, b in zip(forces, forces[1:]))
    assert sim.forces['right_arm.hand.gripper'] == 0.0
    release = frame(left_arm__hand__gripper=30.0)
    later = [parse_reply(sim.answer(release, 2.0 + t * 0.05), KNOWN).left_force
             for t in range(20)]
    assert later[-1] == 0.0


def test_goals_stop_at_unitys_drive_limits_which_differ_from_the_sdks_here() -> None:
    sim = ReachySim(SimOptions(eyes=False, speed_deg_s=1e6))
    beyond = {name.replace('.', '__'): high + 30.0
              for name, (_, high) in UNITY_DRIVE_LIMITS.items()}
    sim.answer(frame(**beyond), 0.0)
    present = parse_reply(sim.answer(frame(**beyond), 0.1), KNOWN).present
    assert present == {name: high for name, (_, high) in UNITY_DRIVE_LIMITS.items()}
    free = ReachySim(SimOptions(eyes=False, speed_deg_s=1e6, drive_limits=False))
    free.answer(frame(left_arm__elbow_pitch=-30.0), 0.0)
    assert free.answer(frame(left_arm__elbow_pitch=-30.0), 0.1).count('-30.0') == 1
    # The simulator and the SDK's table disagree here, and only here (Unity is wider).
    by_wire = {j.wire_name: j for j in DEFAULT_JOINTS}
    differ = {name for name, limits in UNITY_DRIVE_LIMITS.items()
              if limits != (by_wire[name].motor_min_deg, by_wire[name].motor_max_deg)}
    assert differ == {'left_arm.shoulder_pitch', 'right_arm.shoulder_pitch',
                      'left_arm.hand.forearm_yaw', 'right_arm.hand.forearm_yaw',
                      'left_arm.hand.wrist_pitch', 'right_arm.hand.wrist_pitch'}
    for name in differ:
        low, high = UNITY_DRIVE_LIMITS[name]
        assert low <= by_wire[name].motor_min_deg and high >= by_wire[name].motor_max_deg


def test_eyes_follow_the_head_goals_and_are_encoded_once_per_scene() -> None:
    sim = ReachySim(SimOptions(eye_size=(160, 120)))
    first = parse_reply(sim.answer(frame(), 0.0), KNOWN)
    assert first.left_eye == render_jpeg('left', SceneState(), (160, 120))
    assert first.right_eye == render_jpeg('right', SceneState(), (160, 120))
    again = sim.answer(frame(), 0.01)
    assert parse_reply(again, KNOWN).left_eye == first.left_eye
    turned = parse_reply(sim.answer(frame(head__right_antenna=-45.0), 0.02), KNOWN)
    assert turned.right_eye == render_jpeg('right', SceneState(right_antenna=-45), (160, 120))
    assert turned.right_eye != first.right_eye


def test_bad_goal_frames_are_still_answered() -> None:
    sim = ReachySim(SimOptions(eyes=False))
    assert parse_reply(sim.answer('not json', 0.0), KNOWN).present
    assert sim.bad_goal_frames == 1 and sim.cycles == 1


def test_chaos_replaces_some_replies_one_frame_each() -> None:
    sim = ReachySim(SimOptions(eyes=False, chaos=0.5, seed=3))
    replies = [sim.answer(frame(), i * 0.01) for i in range(200)]
    chaotic = [r for r in replies if r in CHAOS_REPLIES]
    assert 60 < len(chaotic) < 140 and sim.chaos_sent == len(chaotic)
    assert len(set(chaotic)) > 3


def test_command_line() -> None:
    args = parse_args(['--eye-size', '640x480', '--rate', '30', '--no-eyes', '--chaos', '0.1'])
    assert (args.eye_size, args.rate, args.no_eyes, args.chaos) == ((640, 480), 30.0, True, 0.1)
    args = parse_args(['--once', '--pause-after', '5', '--pause-s', '1.5'])
    assert (args.once, args.pause_after, args.pause_s) == (True, 5, 1.5)
    for bad in (['--eye-size', '640'], ['--chaos', '2'], ['--url', 'http://x'],
                ['--speed-deg-s', '0'], ['--pause-after', '-1'], ['--pause-s', '-2']):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_client_waits_for_the_server_then_answers_each_frame_once() -> None:
    """Against the real WebSocketServer: retry until it listens, one reply per frame."""
    async def test() -> tuple[list[object], int]:
        recorder = Recorder()
        server = WebSocketServer(WebSocketServerConfig(port=0), recorder, outbox_size=1)
        original = recorder.link_frame

        def answer(frame: object) -> None:
            original(frame)  # type: ignore[arg-type]
            if len(recorder.of('frame')) < 20:
                server.send(frame_with_goal())

        def frame_with_goal() -> bytes:
            return frame(head__left_antenna=10.0)

        recorder.link_frame = answer  # type: ignore[method-assign]
        listening = asyncio.create_task(server.run())
        port = await server.wait_listening()
        await server.close()
        await listening
        # The client starts while nobody listens, and keeps trying.
        stop = asyncio.Event()
        sim = ReachySim(SimOptions(eyes=False, speed_deg_s=1e5))
        client = asyncio.create_task(run_client(f'ws://127.0.0.1:{port}', sim, stop))
        await asyncio.sleep(0.5)
        server = WebSocketServer(WebSocketServerConfig(port=port), recorder, outbox_size=1)
        serving = asyncio.create_task(server.run())
        await server.wait_listening()
        server.send(frame_with_goal())
        await recorder.until(lambda: len(recorder.of('frame')) == 20)
        await asyncio.sleep(0.2)  # no unsolicited frame follows
        count = len(recorder.of('frame'))
        stop.set()
        await asyncio.wait_for(client, WAIT_S)
        await asyncio.wait_for(server.close(), WAIT_S)
        await asyncio.wait_for(serving, WAIT_S)
        return recorder.of('frame'), count

    frames, count = run(test())
    assert count == 20
    last = json.loads(frames[-1])
    assert {'name': 'head.left_antenna', 'present_position': 10.0} in last['motors']


async def _serve_with(answer_count: int) -> tuple[Recorder, WebSocketServer]:
    recorder = Recorder()
    server = WebSocketServer(WebSocketServerConfig(port=0), recorder, outbox_size=1,
                             takeover=True)
    original = recorder.link_frame

    def answer(reply: object) -> None:
        original(reply)  # type: ignore[arg-type]
        if len(recorder.of('frame')) < answer_count:
            server.send(frame())

    recorder.link_frame = answer  # type: ignore[method-assign]
    return recorder, server


def test_once_connects_one_time_pauses_and_is_replaced_without_coming_back() -> None:
    """--once as Unity: no retry when nobody listens; a pause; replaced: gone for good."""
    async def test() -> tuple[str, str, list[float], int]:
        recorder, server = await _serve_with(1000)
        serving = asyncio.create_task(server.run())
        port = await server.wait_listening()
        url = f'ws://127.0.0.1:{port}'
        nobody = await run_client('ws://127.0.0.1:1', ReachySim(SimOptions(eyes=False)),
                                  asyncio.Event(), Session(once=True))
        stop = asyncio.Event()
        sim = ReachySim(SimOptions(eyes=False))
        first = asyncio.create_task(run_client(url, sim, stop, Session(
            once=True, pause_after=5, pause_s=0.6)))
        server.send(frame())
        await recorder.until(lambda: len(recorder.of('frame')) >= 5)
        paused_at = asyncio.get_running_loop().time()
        await recorder.until(lambda: len(recorder.of('frame')) >= 6)
        pause = asyncio.get_running_loop().time() - paused_at
        await recorder.until(lambda: len(recorder.of('frame')) >= 20)
        # A second client takes over: the first is closed with 4001 and does not return.
        second = asyncio.create_task(run_client(url, ReachySim(SimOptions(eyes=False)), stop,
                                                Session(once=True)))
        ended = await asyncio.wait_for(first, WAIT_S)
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(second, WAIT_S)
        await asyncio.wait_for(server.close(), WAIT_S)
        await asyncio.wait_for(serving, WAIT_S)
        return nobody, ended, [pause], server.replaced

    nobody, ended, (pause,), replaced = run(test())
    assert nobody.startswith('could not connect')
    assert ended.startswith(f'closed with code {REPLACED_CODE} (replaced by a newer client')
    assert 0.5 <= pause < 3.0 and replaced == 1


def test_a_reconnecting_client_stops_once_replaced() -> None:
    """Two reconnecting simulators would replace each other forever: a replaced one stops."""
    async def test() -> tuple[str, int]:
        recorder, server = await _serve_with(1000)
        serving = asyncio.create_task(server.run())
        port = await server.wait_listening()
        url = f'ws://127.0.0.1:{port}'
        stop = asyncio.Event()
        first = asyncio.create_task(run_client(url, ReachySim(SimOptions(eyes=False)), stop))
        server.send(frame())
        await recorder.until(lambda: len(recorder.of('frame')) >= 5)
        second = asyncio.create_task(run_client(url, ReachySim(SimOptions(eyes=False)), stop))
        ended = await asyncio.wait_for(first, WAIT_S)
        count = len(recorder.of('frame'))
        await recorder.until(lambda: len(recorder.of('frame')) >= count + 20)
        stop.set()
        await asyncio.wait_for(second, WAIT_S)
        await asyncio.wait_for(server.close(), WAIT_S)
        await asyncio.wait_for(serving, WAIT_S)
        return ended, server.replaced

    ended, replaced = run(test())
    assert ended.startswith(f'closed with code {REPLACED_CODE}') and replaced == 1
