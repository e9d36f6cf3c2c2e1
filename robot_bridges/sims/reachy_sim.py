"""
Executable reachy_sim: a Unity-like Reachy client for the lockstep sync loop.

Connects to the bridge's server (``ws://127.0.0.1:6171``), retrying until it is there and
after every disconnection (``--once``: one connection, never again, as the real Unity client
does), and answers every goal frame with exactly one text frame: the present positions of
its motors (moving toward the goals at a bounded speed, in the motor frame received, and
stopped at the limits of Unity's joint drives), two JPEG eyes whose scene follows the head
and antenna goals, and force sensors in Unity's units that rise while a gripper is closed on
its limit. Like the Unity simulator it sends no present position for the Orbita disks unless
``--disks`` is given, and every other field in every reply.

The Unity facts are those of pollen-robotics/reachy-unity-package at commit 5256a33d
(``Assets/Scripts/WsIO.cs``, ``ReachyController.cs``, ``ForceSensor.cs`` and the
ArticulationBody drives of ``Assets/Prefabs/Reachy.prefab``).

Library use (tests, benchmarks)::

    sim = ReachySim(SimOptions(eyes=False))
    reply = sim.answer(goal_frame, now=time.monotonic())
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass
import random
import sys
import time
from typing import Sequence

from robot_bridges.protocols import reachy
from robot_bridges.protocols.reachy import b64_jpeg, encode_reply, RemoteProtocolError
from robot_bridges.protocols.reachy_joints import (closing_limit_motor_deg, DEFAULT_JOINTS,
                                                   Joint)
from robot_bridges.protocols.text import cut
from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.redact import describe_exception
from robot_bridges.runtime.websocket_server import REPLACED_CODE
from robot_bridges.sims import command_line
from robot_bridges.sims.reachy_scene import EYE_SIZE, render_jpeg, SceneState
from robot_bridges.sims.signals import stop_event
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

__all__ = ['ReachySim', 'Session', 'SimOptions', 'run_client', 'main']

DEFAULT_URL = 'ws://127.0.0.1:6171'
# Unity's force sensor reports the contact impulse x 10000 and ignores impulses up to 0.01:
# a touching gripper reads 100 or more, a free one 0 (ForceSensor.cs). The SDK's grasp
# detection closes until |force| reaches 100 (reachy/parts/hand.py, target_grip_force).
FORCE_CONTACT_MIN = 100.0
FORCE_MAX = 1000.0
FORCE_RISE_PER_S = 2000.0
CLOSED_TOLERANCE_DEG = 1.0
# The xDrive limits of Unity's ArticulationBodies, motor-frame degrees: the drive target is
# the goal as received, and the joint stops there. Where they differ from the SDK's
# angle-limits (shoulder_pitch, forearm_yaw, wrist_pitch), Unity's are wider.
UNITY_DRIVE_LIMITS: dict[str, tuple[float, float]] = {
    'left_arm.shoulder_pitch': (-90.0, 180.0),
    'left_arm.shoulder_roll': (-90.0, 100.0),
    'left_arm.arm_yaw': (-90.0, 90.0),
    'left_arm.elbow_pitch': (0.0, 125.0),
    'left_arm.hand.forearm_yaw': (-150.0, 150.0),
    'left_arm.hand.wrist_pitch': (-50.0, 50.0),
    'left_arm.hand.wrist_roll': (-45.0, 45.0),
    'left_arm.hand.gripper': (-20.0, 69.0),
    'right_arm.shoulder_pitch': (-180.0, 90.0),
    'right_arm.shoulder_roll': (-100.0, 90.0),
    'right_arm.arm_yaw': (-90.0, 90.0),
    'right_arm.elbow_pitch': (0.0, 125.0),
    'right_arm.hand.forearm_yaw': (-150.0, 150.0),
    'right_arm.hand.wrist_pitch': (-50.0, 50.0),
    'right_arm.hand.wrist_roll': (-45.0, 45.0),
    'right_arm.hand.gripper': (-69.0, 20.0),
    'head.left_antenna': (-150.0, 150.0),
    'head.right_antenna': (-150.0, 150.0),
}
# A cycle longer than this (a paused client) moves the joints as if it lasted this long.
MAX_STEP_S = 0.1
RETRY_S = 0.3
# What --chaos mixes in, one malformed reply instead of a good one.
CHAOS_REPLIES = (
    'not json',
    '[]',
    '{"left_eye": ""}',
    '{"motors": [{"name": "head.left_antenna", "present_position": "12"}]}',
    '{"motors": [], "left_eye": "@@not base64@@"}',
    '{"motors": [], "right_eye": "QUJDREVG"}',
    '{"motors": [{"name": "tail.wag", "present_position": 1.0}]}',
)


@dataclass(frozen=True)
class SimOptions:
    """How the simulated robot behaves."""

    speed_deg_s: float = 180.0
    eyes: bool = True
    eye_size: tuple[int, int] = EYE_SIZE
    forces: bool = True
    disks: bool = False
    drive_limits: bool = True
    chaos: float = 0.0
    seed: int | None = None


class ReachySim:
    """The simulated robot: motor positions, eyes and force sensors, one answer per frame."""

    def __init__(self, options: SimOptions = SimOptions(),
                 joints: Sequence[Joint] = DEFAULT_JOINTS) -> None:
        """Start at rest: every motor at its joint start (the disks at -60)."""
        self.options = options
        self.present = {j.wire_name: j.to_motor(j.start_deg) for j in joints}
        self.goals = dict(self.present)
        self._disks = {j.wire_name for j in joints if j.is_disk}
        self._limits = UNITY_DRIVE_LIMITS if options.drive_limits else {}
        self._grippers = [(j.wire_name, closing_limit_motor_deg(j)) for j in joints
                          if j.wire_name.endswith('.gripper')]
        self.forces = {name: 0.0 for name, _ in self._grippers}
        self._random = random.Random(options.seed)
        self._last_time: float | None = None
        self._scene: SceneState | None = None
        self._eyes: tuple[str, str] | None = None
        #: Counters: goal frames answered, malformed goal frames, chaos replies sent.
        self.cycles = 0
        self.bad_goal_frames = 0
        self.chaos_sent = 0
        #: The JPEG bytes of the eyes last rendered (left, right), for tests.
        self.eye_jpegs: tuple[bytes, bytes] | None = None

    def answer(self, frame: str | bytes, now: float) -> str:
        """Return the one text frame that answers goal ``frame`` received at ``now``."""
        self.cycles += 1
        try:
            goals = reachy.parse_goals(frame)
        except RemoteProtocolError as exc:
            # Unity would keep syncing: answer with the positions it has.
            self.bad_goal_frames += 1
            print(f'reachy_sim: bad goal frame: {exc}', file=sys.stderr, flush=True)
        else:
            self._take_goals(goals)
        self._move(now)
        if self.options.chaos > 0 and self._random.random() < self.options.chaos:
            self.chaos_sent += 1
            return self._random.choice(CHAOS_REPLIES)
        return self._reply()

    def _take_goals(self, goals: reachy.Goals) -> None:
        limits = self._limits
        for part in (goals.motors, goals.disks):
            for name, goal in part.items():
                if name in self.goals:
                    low, high = limits.get(name, (goal, goal))
                    self.goals[name] = min(max(goal, low), high)

    def _move(self, now: float) -> None:
        last, self._last_time = self._last_time, now
        step_s = 0.0 if last is None else min(max(now - last, 0.0), MAX_STEP_S)
        reach = self.options.speed_deg_s * step_s
        present, goals = self.present, self.goals
        for name, goal in goals.items():
            position = present[name]
            present[name] = position + max(-reach, min(reach, goal - position))
        for name, closed in self._grippers:
            # Squeezing: commanded to (or past) the closed end, and arrived there. Contact
            # reads at least FORCE_CONTACT_MIN, as Unity's does; no contact reads 0.
            beyond = goals[name] <= closed if closed < 0 else goals[name] >= closed
            squeezing = beyond and abs(present[name] - closed) <= CLOSED_TOLERANCE_DEG
            force = self.forces[name]
            self.forces[name] = (min(FORCE_MAX, max(FORCE_CONTACT_MIN,
                                                    force + FORCE_RISE_PER_S * step_s))
                                 if squeezing else 0.0)

    def _reply(self) -> str:
        options = self.options
        present = self.present
        if not options.disks:
            present = {name: value for name, value in present.items()
                       if name not in self._disks}
        # Unity sends an empty string until its cameras rendered: --no-eyes sends that.
        left_eye = right_eye = ''
        if options.eyes:
            left_eye, right_eye = self._render_eyes()
        left_force = right_force = None
        if options.forces:
            left_force = self.forces.get('left_arm.hand.gripper')
            right_force = self.forces.get('right_arm.hand.gripper')
        return encode_reply(present, left_eye=left_eye, right_eye=right_eye,
                            left_force=left_force, right_force=right_force)

    def _render_eyes(self) -> tuple[str, str]:
        goals = self.goals
        scene = SceneState(
            left_antenna=round(goals.get('head.left_antenna', 0.0)),
            right_antenna=round(goals.get('head.right_antenna', 0.0)),
            disks=tuple(round(goals.get(f'head.disk_{level}', -60.0))  # type: ignore[arg-type]
                        for level in ('bottom', 'middle', 'top')))
        if scene != self._scene or self._eyes is None:
            # Encoded once per scene: a Unity camera renders, then the frame is reused.
            left = render_jpeg('left', scene, self.options.eye_size)
            right = render_jpeg('right', scene, self.options.eye_size)
            self._scene, self.eye_jpegs = scene, (left, right)
            self._eyes = (b64_jpeg(left), b64_jpeg(right))
        return self._eyes


@dataclass(frozen=True)
class Session:
    """How the client connects: ``once`` as Unity does, or again after every disconnection."""

    once: bool = False
    rate_hz: float = 0.0
    status_period_s: float = 0.0
    # After this many replies (0: never), answer nothing for pause_s: a paused Unity editor.
    pause_after: int = 0
    pause_s: float = 0.0


async def run_client(url: str, sim: ReachySim, stop: asyncio.Event,
                     session: Session = Session()) -> str:
    """
    Sync with the server at ``url`` until ``stop`` is set; return why it ended.

    Without ``session.once`` it reconnects whenever the connection goes (websockets' own
    policy, with short delays), except after a newer client replaced it (close code 4001):
    two such clients would otherwise replace each other forever. With ``once`` it connects
    one time, as Unity does, and returns when that connection ends (or failed to open).
    """
    client = _Client(url, sim, stop, session)
    serving = asyncio.ensure_future(client.serve_all())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((serving, stopping), return_when=asyncio.FIRST_COMPLETED)
        if not client.connected:
            serving.cancel()  # connecting or waiting to retry: nothing to close
        await asyncio.wait((serving,), timeout=3.0)
    finally:
        stopping.cancel()
        serving.cancel()
    return client.ended


class _Client:
    """One simulated Unity client: connections to the server, one after the other."""

    def __init__(self, url: str, sim: ReachySim, stop: asyncio.Event,
                 session: Session) -> None:
        self.url = url
        self.sim = sim
        self.stop = stop
        self.session = session
        self.connected = False
        self.ended = 'stopped'
        self._waiting_said = False

    async def serve_all(self) -> None:
        if self.session.once:
            try:
                connection = await connect(self.url, open_timeout=5.0, max_size=1 << 20,
                                           compression=None, close_timeout=1.0)
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                self.ended = f'could not connect ({cut(describe_exception(exc), 120)})'
                print(f'reachy_sim: {self.ended}; not trying again (--once)', flush=True)
                return
            async with connection:
                await self._serve(connection)
            return
        attempts = connect(self.url, open_timeout=5.0, max_size=1 << 20, compression=None,
                           close_timeout=1.0, process_exception=self._retry,
                           reconnect_delays=Backoff(min_s=0.05, max_s=RETRY_S).delays)
        async with contextlib.aclosing(aiter(attempts)) as connections:
            async for connection in connections:
                opened = time.monotonic()
                code = await self._serve(connection)
                if self.stop.is_set():
                    return
                if code == REPLACED_CODE:
                    print('reachy_sim: a newer client took over; not reconnecting', flush=True)
                    return
                if time.monotonic() - opened < 1.0:
                    await asyncio.sleep(RETRY_S)  # refused (1013) or dropped at once

    async def _serve(self, connection: ClientConnection) -> int | None:
        """Sync over one connection; return the close code it ended with, if any."""
        self._waiting_said = False
        self.connected = True
        print(f'reachy_sim: connected to {self.url}', flush=True)
        self.ended, code = await _sync(connection, self.sim, self.stop, self.session)
        self.connected = False
        print(f'reachy_sim: disconnected ({self.ended})', flush=True)
        return code

    def _retry(self, exc: Exception) -> Exception | None:
        # Unity keeps trying until the server is there.
        if not self._waiting_said:
            print(f'reachy_sim: waiting for the server at {self.url} '
                  f'({cut(describe_exception(exc), 120)})', flush=True)
            self._waiting_said = True
        return None


async def _sync(connection: ClientConnection, sim: ReachySim, stop: asyncio.Event,
                session: Session) -> tuple[str, int | None]:
    period = 1.0 / session.rate_hz if session.rate_hz > 0 else 0.0
    status_period_s = session.status_period_s
    pause_at = sim.cycles + session.pause_after if session.pause_after > 0 else -1
    stopping = asyncio.ensure_future(stop.wait())
    clock = time.monotonic
    last_status, cycles_then = clock(), sim.cycles
    next_reply = 0.0
    try:
        while True:
            receiving = asyncio.ensure_future(connection.recv())
            await asyncio.wait((receiving, stopping), return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()
                await connection.close()
                return 'stopped', None
            frame = receiving.result()
            if sim.cycles == pause_at:
                # Paused: the socket stays open (websockets answers pings meanwhile, as the
                # Unity editor's socket thread does), but no reply goes out.
                print(f'reachy_sim: pausing {session.pause_s:g} s after {sim.cycles} replies',
                      flush=True)
                await asyncio.wait((stopping,), timeout=session.pause_s)
                print('reachy_sim: resuming', flush=True)
            now = clock()
            if period:
                if now < next_reply:
                    await asyncio.sleep(next_reply - now)
                    now = clock()
                next_reply = max(next_reply + period, now)
            await connection.send(sim.answer(frame, now))
            if status_period_s and now - last_status >= status_period_s:
                rate = (sim.cycles - cycles_then) / (now - last_status)
                print(f'reachy_sim: {rate:.0f} cycles/s', flush=True)
                last_status, cycles_then = now, sim.cycles
    except ConnectionClosed as exc:
        close = exc.rcvd or exc.sent
        if close is None:
            return 'connection lost', None
        return (f'closed with code {int(close.code)}' +
                (f' ({close.reason})' if close.reason else ''), int(close.code))
    finally:
        stopping.cancel()


def _eye_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition('x')
    try:
        size = (int(width), int(height))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected WIDTHxHEIGHT, got {text!r}') from None
    if not sep or not (8 <= size[0] <= 4096 and 8 <= size[1] <= 4096):
        raise argparse.ArgumentTypeError(f'expected WIDTHxHEIGHT within 8..4096, got {text!r}')
    return size


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--url', default=DEFAULT_URL, help="the bridge's sync server")
    parser.add_argument('--speed-deg-s', type=float, default=180.0,
                        help='largest joint speed, motor degrees per second')
    parser.add_argument('--rate', type=float, default=0.0,
                        help='cap on cycles per second, like a Unity frame rate (0: none)')
    parser.add_argument('--no-eyes', action='store_true', help='send no camera frames')
    parser.add_argument('--eye-size', type=_eye_size, default=EYE_SIZE,
                        help='camera frame size WIDTHxHEIGHT (default 320x240)')
    parser.add_argument('--no-force', action='store_true',
                        help='send no force sensor values (the bridge publishes NaN)')
    parser.add_argument('--disks', action='store_true',
                        help='also report Orbita disk positions (Unity does not)')
    parser.add_argument('--no-drive-limits', action='store_true',
                        help="move to any goal (Unity's joint drives stop at their limits)")
    parser.add_argument('--once', action='store_true',
                        help='connect one time and never again, as the Unity client does')
    parser.add_argument('--pause-after', type=int, default=0, metavar='N',
                        help='after N replies, answer nothing for --pause-s (a paused editor)')
    parser.add_argument('--pause-s', type=float, default=0.0,
                        help='how long the pause of --pause-after lasts, seconds')
    parser.add_argument('--chaos', type=float, default=0.0,
                        help='fraction of replies replaced by malformed ones (0..1)')
    parser.add_argument('--status-period', type=float, default=5.0,
                        help='print the cycle rate every this many seconds (0: never)')
    args = command_line.parse_args(parser, argv)
    if not 0.0 < args.speed_deg_s <= 1e6:
        parser.error('--speed-deg-s must be in (0, 1e6]')
    if not 0.0 <= args.rate <= 1e6:
        parser.error('--rate must be in [0, 1e6]')
    if not 0.0 <= args.chaos <= 1.0:
        parser.error('--chaos must be in [0, 1]')
    if args.pause_after < 0 or not 0.0 <= args.pause_s <= 3600.0:
        parser.error('--pause-after must be >= 0 and --pause-s in [0, 3600]')
    if not args.url.startswith(('ws://', 'wss://')):
        parser.error('--url must be a ws:// or wss:// URL')
    return args


async def _main(args: argparse.Namespace) -> None:
    options = SimOptions(speed_deg_s=args.speed_deg_s, eyes=not args.no_eyes,
                         eye_size=args.eye_size, forces=not args.no_force, disks=args.disks,
                         drive_limits=not args.no_drive_limits, chaos=args.chaos)
    sim = ReachySim(options)
    session = Session(once=args.once, rate_hz=args.rate, status_period_s=args.status_period,
                      pause_after=args.pause_after, pause_s=args.pause_s)
    await run_client(args.url, sim, stop_event(), session)
    # The count a soak compares with what arrived.
    print(f'reachy_sim: sent {sim.cycles} replies', flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges reachy_sim``."""
    args = parse_args(argv)
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:
        pass  # interrupted before the signal handlers were installed
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
