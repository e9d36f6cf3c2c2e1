"""
The LetsRobot bridge's ``cmd_vel``: drive commands as velocity commands for a robot stack.

:class:`CmdVel` publishes what the :class:`~robot_bridges.translate.letsrobot_cmd_vel.Deadman`
decides, and wakes it at its deadline with one timer on the asyncio loop (the loop's clock
is monotonic: the deadman never follows ROS time, so a paused simulation clock cannot hold
a robot in motion). Commands and wake-ups run on the loop thread, deactivation on the
executor thread; one lock orders them, so after the zero of a deactivation no velocity can
follow. With ``cmd_vel_enabled`` false (the default) nothing is created and every call
does nothing.

The bridge calls: :func:`declare_parameters` (declaration), :meth:`CmdVel.configure`
(setup), :meth:`CmdVel.activate` / :meth:`CmdVel.deactivate` (lifecycle),
:meth:`CmdVel.command` (each command that passed the control filter), :meth:`CmdVel.halt`
(a socket went down) and :meth:`CmdVel.diagnostic_values`.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any, Iterable

from geometry_msgs.msg import Twist, TwistStamped
from robot_bridges.node import params
from robot_bridges.node.bridge_node import BridgeNode
from robot_bridges.node.qos import reliable
from robot_bridges.runtime.redact import describe_exception
from robot_bridges.translate import letsrobot_cmd_vel as translate
from robot_bridges.translate.letsrobot_cmd_vel import Deadman, Velocity

TOPIC = 'cmd_vel'
# What velocity consumers (diff_drive_controller, twist_mux, nav2) subscribe with:
# reliable, volatile, a short history (a stale velocity is worth nothing).
QOS_DEPTH = 10


def declare_parameters(node: BridgeNode) -> None:
    """Declare the ``cmd_vel_*`` parameters on the bridge."""
    d = functools.partial(params.declare, node)
    d('cmd_vel_enabled', False,
      'Publish drive commands on cmd_vel (geometry_msgs/Twist); off: nothing moves a robot.')
    d('cmd_vel_map', list(translate.DEFAULT_MAP),
      f'Which command drives how: {translate.ENTRY_FORM} entries, m/s and rad/s (REP-103: '
      'angular z positive turns left).')
    d('cmd_vel_timeout_s', 0.5,
      'Deadman: one zero velocity when no drive command came for this long, seconds.',
      min_value=0.05, max_value=60.0)
    d('cmd_vel_stop_on_key_up', True,
      'Key up of the command driving stops at once; false: it runs until the deadman.')
    d('cmd_vel_stamped', False, 'Publish geometry_msgs/TwistStamped instead of Twist.')
    d('cmd_vel_frame_id', 'base_link', 'header.frame_id of TwistStamped.')


class CmdVel:
    """``cmd_vel`` of one configured bridge; see the module docstring for who calls what."""

    def __init__(self, node: BridgeNode, deadman: Deadman | None, stamped: bool,
                 frame_id: str) -> None:
        self._node = node
        self._deadman = deadman
        self._stamped = stamped
        self._frame_id = frame_id
        self._lock = threading.Lock()
        self._wake: asyncio.TimerHandle | None = None
        self._publisher: Any = None
        if deadman is not None:
            self._publisher = node.make_publisher(TwistStamped if stamped else Twist, TOPIC,
                                                  reliable(QOS_DEPTH))
        self.published = 0

    @classmethod
    def configure(cls, node: BridgeNode) -> CmdVel:
        """
        Read the parameters and create the publisher if ``cmd_vel_enabled``.

        Raises ``ValueError`` naming the parameter for a malformed ``cmd_vel_map`` entry
        (checked even while disabled) or an empty map while enabled.
        """
        get = functools.partial(params.get, node)
        table = translate.parse_map(params.get_strings(node, 'cmd_vel_map'))
        if not get('cmd_vel_enabled'):
            return cls(node, None, False, '')
        if not table:
            raise ValueError('cmd_vel_map is empty while cmd_vel_enabled is true: no command '
                             f'would drive; give {translate.ENTRY_FORM} entries')
        deadman = Deadman(table, get('cmd_vel_timeout_s'), get('cmd_vel_stop_on_key_up'))
        return cls(node, deadman, get('cmd_vel_stamped'), get('cmd_vel_frame_id'))

    def activate(self) -> None:
        """Let commands drive (any thread, after the publishers are active)."""
        if self._deadman is not None:
            with self._lock:
                self._deadman.enable()

    def deactivate(self) -> None:
        """Publish a zero if a motion is under way, and drive no more (any thread, first)."""
        if self._deadman is not None:
            with self._lock:
                self._publish(self._deadman.disable())

    def halt(self) -> None:
        """End the motion under way with one zero (loop thread: a socket went down)."""
        if self._deadman is not None:
            with self._lock:
                self._publish(self._deadman.halt())

    def command(self, command: str, key_position: str) -> None:
        """Publish what a command that passed the control filter asks for (loop thread)."""
        if self._deadman is None:
            return
        loop = self._node.loop.loop
        with self._lock:
            self._publish(self._deadman.command(command, key_position, loop.time()))
            deadline = self._deadman.deadline
        # _wake belongs to the loop thread. One wake-up at a time: the deadline only moves
        # later, so an early wake-up just sleeps again until the current one.
        if deadline is not None and self._wake is None:
            self._wake = loop.call_at(deadline, self._on_wake)

    def _on_wake(self) -> None:
        self._wake = None
        deadman, loop = self._deadman, self._node.loop.loop
        assert deadman is not None  # only a configured deadman schedules wake-ups
        with self._lock:
            try:
                self._publish(deadman.expire(loop.time()))
            except Exception as exc:  # noqa: B902 - a loop callback: say it, never raise
                self._node.get_logger().error(
                    f'cmd_vel: the deadman zero failed: {describe_exception(exc)}')
            deadline = deadman.deadline
        if deadline is not None:
            self._wake = loop.call_at(deadline, self._on_wake)

    def _publish(self, velocity: Velocity | None) -> None:
        if velocity is None:
            return
        if self._stamped:
            msg: Any = translate.twist_stamped(velocity, self._node.get_clock().now().to_msg(),
                                               self._frame_id)
        else:
            msg = translate.twist(velocity)
        # The shutdown path reports the link's end too: then nothing can be sent.
        if self._node.publish_unless_shut_down(self._publisher, msg):
            self.published += 1

    def diagnostic_values(self) -> Iterable[tuple[str, str]]:
        """``cmd_vel`` state and counters (executor thread)."""
        deadman = self._deadman
        if deadman is None:
            return (('cmd_vel', 'disabled'),)
        with self._lock:
            state = f'driving {deadman.active}' if deadman.active else 'stopped'
        return (('cmd_vel', state), ('cmd_vel_published', str(self.published)),
                ('cmd_vel_deadman_stops', str(deadman.timeouts)))
