"""
LetsRobot drive commands -> velocity commands for a mobile robot stack (``cmd_vel``).

Everything here is pure: no I/O, no clock (times are passed in, seconds of a steady clock),
no rclpy node.

* :func:`parse_map` reads the ``cmd_vel_map`` parameter (``COMMAND:LINEAR_X:ANGULAR_Z``
  entries, m/s and rad/s, REP-103: x forward, z counter-clockwise, so a left turn is
  positive) and says which entry is wrong and why.
* :class:`Deadman` decides, for each command and each wake-up, what ``cmd_vel`` carries
  next: a mapped velocity, one zero when the motion it started ends (key up, no drive
  command for ``timeout_s``, link lost, node deactivated), or nothing.
* :func:`twist` / :func:`twist_stamped` build the messages.

Facts the rules follow: the reference robot clients moved for a fixed time per command and
then stopped (letsRobot/letsrobot 8e82f13, ``hardware/motor_hat.py`` ``move()`` sleeps
``straight_delay`` / ``turn_delay``, 0.5 s / 0.4 s in ``letsrobot.sample.conf``), and acted
on ``key_position`` ``down`` only (robotstreamer/robotstreamer 24d0d7c, e.g.
``gopigo_interface.py``: ``if keyPosition != "down": return``); older servers sent no
``key_position`` at all (PROTOCOLS.md section 2). So a command without one drives like a
``down``, and the deadman's default of 0.5 s is the reference client's straight move.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Mapping, Sequence

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist, TwistStamped
from robot_bridges.protocols.text import excerpt

ENTRY_FORM = 'COMMAND:LINEAR_X:ANGULAR_Z'
# The site's usual buttons: forward, back, turn left, turn right, stop.
DEFAULT_MAP = ('F:0.2:0.0', 'B:-0.2:0.0', 'L:0.0:1.0', 'R:0.0:-1.0', 'stop:0.0:0.0')


@dataclass(frozen=True, slots=True)
class Velocity:
    """One velocity command: ``linear_x`` in m/s (forward +), ``angular_z`` in rad/s (left +)."""

    linear_x: float = 0.0
    angular_z: float = 0.0

    @property
    def moves(self) -> bool:
        """Whether the robot moves under this command (a zero is a stop)."""
        return self.linear_x != 0.0 or self.angular_z != 0.0


STOP = Velocity()


def parse_map(entries: Sequence[str], name: str = 'cmd_vel_map') -> dict[str, Velocity]:
    """
    Read ``COMMAND:LINEAR_X:ANGULAR_Z`` entries into a command -> velocity table.

    Commands are matched exactly as the site sends them (``F`` is not ``f``); a command may
    itself contain ``:`` (the two numbers are the last two fields). Raises ``ValueError``
    naming the entry and the rule for a malformed entry, a number that is not finite, or a
    command given twice. An empty list gives an empty table.
    """
    table: dict[str, Velocity] = {}
    for index, entry in enumerate(entries):
        where = f'{name}[{index}]'
        command, velocity = _parse_entry(where, entry)
        if command in table:
            raise _entry_error(where, entry, f'command {excerpt(command)} is mapped twice')
        table[command] = velocity
    return table


def _parse_entry(where: str, entry: str) -> tuple[str, Velocity]:
    parts = entry.rsplit(':', 2)
    if len(parts) != 3:
        raise _entry_error(where, entry, 'not three fields')
    command = parts[0].strip()
    if not command:
        raise _entry_error(where, entry, 'the command is empty')
    values = []
    for axis, text in zip(('LINEAR_X', 'ANGULAR_Z'), parts[1:]):
        try:
            value = float(text)
        except ValueError:
            raise _entry_error(where, entry,
                               f'{axis} {excerpt(text.strip())} is not a number') from None
        if not math.isfinite(value):
            raise _entry_error(where, entry, f'{axis} must be finite')
        values.append(value)
    return command, Velocity(*values)


def _entry_error(where: str, entry: str, why: str) -> ValueError:
    return ValueError(f'{where} {excerpt(entry)}: {why}; expected {ENTRY_FORM} (m/s, rad/s), '
                      f'e.g. {DEFAULT_MAP[0]!r}')


class Deadman:
    """
    What ``cmd_vel`` carries next, from LetsRobot commands and the time.

    Each method returns the velocity to publish now, or None for nothing. The rules:

    * A mapped command with ``key_position`` ``down`` or none (older servers) publishes its
      velocity. A moving one becomes the active command and (re)arms the deadman: if no
      drive command follows within ``timeout_s``, :meth:`expire` returns one zero. A
      mapped zero (``stop``) publishes a zero at once and disarms.
    * ``up`` of the active command stops at once (one zero) when ``stop_on_key_up``;
      otherwise the motion runs until the deadman, as the reference client's timed moves
      did. ``up`` of any other command changes nothing (a key released while another is
      held must not stop the held one).
    * ``intermediate`` (the key is still held) refreshes the active command and never
      starts one.
    * Unmapped commands (custom buttons) do nothing here.
    * :meth:`halt` (link lost) and :meth:`disable` (deactivate) return one zero if a motion
      is under way; while disabled, nothing is published. A zero is only ever sent to end a
      motion this bridge started (or for an explicit ``stop``), so an idle bridge never
      competes with other velocity sources (e.g. through twist_mux).
    """

    def __init__(self, table: Mapping[str, Velocity], timeout_s: float,
                 stop_on_key_up: bool = True) -> None:
        if not timeout_s > 0.0:
            raise ValueError(f'timeout_s {timeout_s}: must be positive')
        self.table = dict(table)
        self.timeout_s = timeout_s
        self.stop_on_key_up = stop_on_key_up
        self.enabled = False
        #: The command driving the robot now ('' when stopped).
        self.active = ''
        #: When the deadman stops the active command (None when stopped).
        self.deadline: float | None = None
        #: Motions the deadman ended.
        self.timeouts = 0

    def enable(self) -> None:
        """Let commands drive (the node became active)."""
        self.enabled = True

    def disable(self) -> Velocity | None:
        """Stop driving until :meth:`enable`; return a zero if a motion was under way."""
        self.enabled = False
        return self.halt()

    def halt(self) -> Velocity | None:
        """End the motion under way (link lost): a zero, or None if there is none."""
        if not self.active:
            return None
        self.active, self.deadline = '', None
        return STOP

    def command(self, command: str, key_position: str, now: float) -> Velocity | None:
        """Return what ``command`` with ``key_position``, received at ``now``, publishes."""
        velocity = self.table.get(command)
        if not self.enabled or velocity is None:
            return None
        if key_position == 'up':
            if self.stop_on_key_up and command == self.active:
                return self.halt()
            return None
        if key_position == 'intermediate' and command != self.active:
            return None
        if velocity.moves:
            self.active, self.deadline = command, now + self.timeout_s
        else:
            self.active, self.deadline = '', None
        return velocity

    def expire(self, now: float) -> Velocity | None:
        """Return one zero if the deadline passed at ``now``; call again at :attr:`deadline`."""
        if self.deadline is None or now < self.deadline:
            return None
        self.timeouts += 1
        return self.halt()


def twist(velocity: Velocity) -> Twist:
    """Build a ``geometry_msgs/Twist`` (the other four axes stay zero)."""
    msg = Twist()
    msg.linear.x = velocity.linear_x
    msg.angular.z = velocity.angular_z
    return msg


def twist_stamped(velocity: Velocity, stamp: Time, frame_id: str) -> TwistStamped:
    """Build a ``geometry_msgs/TwistStamped`` in ``frame_id`` (the robot's base frame)."""
    msg = TwistStamped(twist=twist(velocity))
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg
