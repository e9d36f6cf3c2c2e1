"""
Executable reachy_sim: a Unity-like Reachy client for the lockstep sync loop.

Connects to the bridge's server (``ws://127.0.0.1:6171``), retrying until it is there and
after every disconnection, and answers every goal frame with exactly one text frame: the
present positions of its motors (moving toward the goals at a bounded speed, in the motor
frame received), two JPEG eyes whose scene follows the head and antenna goals, and force
sensors that rise while a gripper is closed on its limit. Like the Unity simulator it sends
no present position for the Orbita disks unless ``--disks`` is given.

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
from robot_bridges.sims import command_line
from robot_bridges.sims.reachy_scene import EYE_SIZE, render_jpeg, SceneState
from robot_bridges.sims.signals import stop_event
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = ['ReachySim', 'SimOptions', 'run_client', 'main']

DEFAULT_URL = 'ws://127.0.0.1:6171'
# Force sensors (arbitrary load-cell units): rise while squeezing, fall when released.
FORCE_MAX = 10.0
FORCE_RISE_PER_S = 20.0
FORCE_FALL_PER_S = 40.0
CLOSED_TOLERANCE_DEG = 1.0
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
        for part in (goals.motors, goals.disks):
            for name, goal in part.items():
                if name in self.goals:
                    self.goals[name] = goal

    def _move(self, now: float) -> None:
        last, self._last_time = self._last_time, now
        step_s = 0.0 if last is None else min(max(now - last, 0.0), MAX_STEP_S)
        reach = self.options.speed_deg_s * step_s
        present, goals = self.present, self.goals
        for name, goal in goals.items():
            position = present[name]
            present[name] = position + max(-reach, min(reach, goal - position))
        for name, closed in self._grippers:
            # Squeezing: commanded to (or past) the closed end, and arrived there.
            beyond = goals[name] <= closed if closed < 0 else goals[name] >= closed
            squeezing = beyond and abs(present[name] - closed) <= CLOSED_TOLERANCE_DEG
            delta = FORCE_RISE_PER_S if squeezing else -FORCE_FALL_PER_S
            self.forces[name] = min(FORCE_MAX, max(0.0, self.forces[name] + delta * step_s))

    def _reply(self) -> str:
        options = self.options
        present = self.present
        if not options.disks:
            present = {name: value for name, value in present.items()
                       if name not in self._disks}
        left_eye = right_eye = None
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


async def run_client(url: str, sim: ReachySim, stop: asyncio.Event, *, rate_hz: float = 0.0,
                     status_period_s: float = 0.0) -> None:
    """
    Sync with the server at ``url`` until ``stop`` is set, reconnecting whenever it goes.

    ``rate_hz`` > 0 caps the cycle rate (a Unity frame rate); ``status_period_s`` > 0 prints
    the cycle rate that often. Reconnection is websockets' own policy, with short delays.
    """
    client = _Client(url, sim, stop, rate_hz, status_period_s)
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


class _Client:
    """One simulated Unity client: connections to the server, one after the other."""

    def __init__(self, url: str, sim: ReachySim, stop: asyncio.Event, rate_hz: float,
                 status_period_s: float) -> None:
        self.url = url
        self.sim = sim
        self.stop = stop
        self.rate_hz = rate_hz
        self.status_period_s = status_period_s
        self.connected = False
        self._waiting_said = False

    async def serve_all(self) -> None:
        attempts = connect(self.url, open_timeout=5.0, max_size=1 << 20, compression=None,
                           close_timeout=1.0, process_exception=self._retry,
                           reconnect_delays=Backoff(min_s=0.05, max_s=RETRY_S).delays)
        async with contextlib.aclosing(aiter(attempts)) as connections:
            async for connection in connections:
                self._waiting_said = False
                self.connected = True
                print(f'reachy_sim: connected to {self.url}', flush=True)
                opened = time.monotonic()
                reason = await _sync(connection, self.sim, self.stop, self.rate_hz,
                                     self.status_period_s)
                self.connected = False
                print(f'reachy_sim: disconnected ({reason})', flush=True)
                if self.stop.is_set():
                    return
                if time.monotonic() - opened < 1.0:
                    await asyncio.sleep(RETRY_S)  # refused (1013) or dropped at once

    def _retry(self, exc: Exception) -> Exception | None:
        # Unity keeps trying until the server is there.
        if not self._waiting_said:
            print(f'reachy_sim: waiting for the server at {self.url} '
                  f'({cut(describe_exception(exc), 120)})', flush=True)
            self._waiting_said = True
        return None


async def _sync(connection: ClientConnection, sim: ReachySim, stop: asyncio.Event,
                rate_hz: float, status_period_s: float) -> str:
    period = 1.0 / rate_hz if rate_hz > 0 else 0.0
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
                return 'stopped'
            frame = receiving.result()
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
            return 'connection lost'
        return f'closed with code {int(close.code)}' + (f' ({close.reason})'
                                                        if close.reason else '')
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
    if not args.url.startswith(('ws://', 'wss://')):
        parser.error('--url must be a ws:// or wss:// URL')
    return args


async def _main(args: argparse.Namespace) -> None:
    options = SimOptions(speed_deg_s=args.speed_deg_s, eyes=not args.no_eyes,
                         eye_size=args.eye_size, forces=not args.no_force, disks=args.disks,
                         chaos=args.chaos)
    sim = ReachySim(options)
    await run_client(args.url, sim, stop_event(), rate_hz=args.rate,
                     status_period_s=args.status_period)
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
