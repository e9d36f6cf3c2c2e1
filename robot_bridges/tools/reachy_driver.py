"""
The main job's Reachy driver: waves the right arm and the antennas, prints convergence.

Publishes ``/reachy/joint_commands`` at 20 Hz (a slow wave of the right shoulder and elbow,
the antennas swinging against each other) and, every 1.5 s, prints the commanded and
present positions of those joints and the eye frame rate seen on the compressed topics.
Both topics arrive at the simulator's 60 Hz, and no executor wakes for them: its wait set
rebuilt 120 times a second was most of the main job's printer CPU. Their messages wait in
the reader's history and are taken, serialized, once per report; only the latest of each is
decoded. Nor does an executor run the commands: :meth:`ReachyDriver.drive` publishes them
from a thread of its own, paced by a clock (an executor's 20 Hz timer rebuilt its wait set
and inspected the callback's signature at every tick: more than half of the job's CPU).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import Callable

from rclpy.node import Node
from rclpy.serialization import deserialize_message
from robot_bridges.node.loop_subscription import LoopTaken, take_waiting
from robot_bridges.node.qos import reliable
from robot_bridges.tools.lean_node import LEAN
from sensor_msgs.msg import CompressedImage, JointState

NAMESPACE = '/reachy'
COMMAND_HZ = 20.0
PRINT_PERIOD_S = 1.5
WAVE_PERIOD_S = 4.0
SHOWN = ('r_shoulder_pitch', 'r_elbow_pitch', 'l_antenna', 'r_antenna')
# Eye frames kept between two reports: room for 60 frames/s over PRINT_PERIOD_S, and more.
EYE_HISTORY = 150


def wave(t: float) -> dict[str, float]:
    """Return the goals at time ``t`` (joint-frame degrees)."""
    phase = math.sin(2 * math.pi * t / WAVE_PERIOD_S)
    return {'r_shoulder_pitch': -120.0,           # arm raised in front
            'r_shoulder_roll': -20.0,
            'r_elbow_pitch': -60.0 - 40.0 * phase,  # the forearm waves (bent: negative)
            'l_antenna': 60.0 * phase,
            'r_antenna': -60.0 * phase}


class ReachyDriver(Node):
    """Drives the Reachy bridge and reports what came back."""

    def __init__(self, write: Callable[[str], None] = print) -> None:
        super().__init__('reachy_driver', **LEAN)
        self._write = write
        self._start = time.monotonic()
        self._goals: dict[str, float] = {}
        self._latest_states: bytes | None = None
        self._latest_eye: bytes | None = None
        self._eye_frames = 0
        self._last_print = time.monotonic()
        self._commands = self.create_publisher(JointState, f'{NAMESPACE}/joint_commands',
                                               reliable(10))
        taken = LoopTaken()  # by _report, never by the executor
        self._states = self.create_subscription(
            JointState, f'{NAMESPACE}/joint_states', self._on_states, reliable(1), raw=True,
            callback_group=taken)
        self._eye = self.create_subscription(
            CompressedImage, f'{NAMESPACE}/left_eye/image_raw/compressed', self._on_eye,
            reliable(EYE_HISTORY), raw=True, callback_group=taken)

    def drive(self, stop: threading.Event) -> None:
        """Command at COMMAND_HZ, report every PRINT_PERIOD_S, until ``stop`` or shutdown."""
        period = 1.0 / COMMAND_HZ
        next_command = time.monotonic()
        next_report = next_command + PRINT_PERIOD_S
        said_error = -PRINT_PERIOD_S
        while not stop.wait(max(0.0, next_command - time.monotonic())):
            now = time.monotonic()
            # On schedule; after a stall (a suspended process) from now, with no catching up.
            next_command = max(next_command + period, now)
            try:
                self._command()
                if now >= next_report:
                    next_report = now + PRINT_PERIOD_S
                    self._report()
            except Exception as exc:  # noqa: B902 - the demo goes on, and says why it paused
                if not self.context.ok():
                    return  # rclpy shut down (Ctrl-C) between the wait and the publish
                if now - said_error >= PRINT_PERIOD_S:  # one line per report period at most
                    said_error = now
                    with contextlib.suppress(OSError, ValueError):  # a closed stdout
                        self._write(f'driver error (it goes on): {type(exc).__name__}: '
                                    f'{exc}'[:300])

    def _command(self) -> None:
        self._goals = wave(time.monotonic() - self._start)
        self._commands.publish(JointState(
            name=list(self._goals), position=[math.radians(v) for v in self._goals.values()]))

    def _on_states(self, data: bytes) -> None:
        self._latest_states = data

    def _on_eye(self, data: bytes) -> None:
        self._eye_frames += 1
        self._latest_eye = data

    def _report(self) -> None:
        take_waiting(self._states, self._on_states, limit=1)
        take_waiting(self._eye, self._on_eye, limit=EYE_HISTORY)
        now = time.monotonic()
        rate = self._eye_frames / (now - self._last_print)
        self._eye_frames, self._last_print = 0, now
        if self._latest_states is None:
            self._write('no joint_states yet (is reachy_sim connected?)')
            return
        states = deserialize_message(self._latest_states, JointState)
        present = {name: math.degrees(value) for name, value in zip(states.name, states.position)}
        eye_bytes = (len(deserialize_message(self._latest_eye, CompressedImage).data)
                     if self._latest_eye is not None else 0)
        joints = '  '.join(f'{name} goal {self._goals.get(name, math.nan):7.1f} present '
                           f'{present.get(name, math.nan):7.1f}' for name in SHOWN)
        self._write(f'{joints}  | left eye {rate:.0f} frames/s, {eye_bytes} B JPEG')
