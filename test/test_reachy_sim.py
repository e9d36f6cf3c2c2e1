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
from robot_bridges.runtime.websocket_server import WebSocketServer, WebSocketServerConfig
from robot_bridges.sims.reachy_scene import render_jpeg, SceneState
from robot_bridges.sims.reachy_sim import (CHAOS_REPLIES, FORCE_MAX, parse_args, ReachySim,
                                           run_client, SimOptions)

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
    reply = parse_reply(sim.answer(frame(), 0.0), KNOWN)
    assert reply.present == {name: START[name] for name in MOTORS}
    assert (reply.left_force, reply.right_force) == (0.0, 0.0)
    assert reply.left_eye is None and not reply.problems
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
    assert forces[0] == 0.0 and forces[5] > 0.0 and forces[-1] == FORCE_MAX
    assert all(b >= a for a, b in zip(forces, forces[1:]))
    assert sim.forces['right_arm.hand.gripper'] == 0.0
    release = frame(left_arm__hand__gripper=30.0)
    later = [parse_reply(sim.answer(release, 2.0 + t * 0.05), KNOWN).left_force
             for t in range(20)]
    assert later[-1] == 0.0


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
    for bad in (['--eye-size', '640'], ['--chaos', '2'], ['--url', 'http://x'],
                ['--speed-deg-s', '0']):
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
