"""
Node reachy_bridge: the lockstep sync server for the Reachy Unity simulator as ROS topics.

The bridge is the websocket server; one client (Unity, or reachy_sim) at a time, the newest
winning: Unity connects once and never reconnects, so a restarted Unity must always get
through, and the client it replaces is closed (code 4001, the newcomer named in the reason).
A silent client (a paused Unity editor, a hitch) is kept and waited for, as the SDK's own
server does; it is reported after ``client_timeout_s``, and dropped only when its connection
is gone (the keepalive pings find that). Each reply of the client is published
(joint_states, eyes, force sensors) and answered with the next goal frame, which carries the
latest goal of every joint: the loop is paced by the client.
That frame leaves as soon as the reply arrives, before the reply is parsed, and carries
every joint_commands message received by then: the loop takes them from the subscription
itself (:class:`~robot_bridges.node.loop_subscription.LoopSubscription`), with no executor
hop in between.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Iterable, Sequence

from rclpy.lifecycle import State, TransitionCallbackReturn
from robot_bridges.bridges.reachy_params import declare_joint_table, read_joint_table
from robot_bridges.node import params
from robot_bridges.node.bridge_node import BridgeNode
from robot_bridges.node.cycle_window import CycleWindow
from robot_bridges.node.qos import LATCHED, reliable
from robot_bridges.node.runner import run_bridge
from robot_bridges.protocols.reachy import (GoalEncoder, LocalProtocolError, parse_reply,
                                            RemoteProtocolError, Reply)
from robot_bridges.protocols.reachy_description import urdf
from robot_bridges.protocols.reachy_joints import FAN_ALIASES, FANS, PARTS
from robot_bridges.protocols.text import excerpt
from robot_bridges.runtime.link import Frame
from robot_bridges.runtime.loop_thread import LoopThread
from robot_bridges.runtime.redact import describe_exception
from robot_bridges.runtime.websocket_server import WebSocketServer, WebSocketServerConfig
from robot_bridges.srv import SetFan
from robot_bridges.translate import reachy as translate
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Float32, String

# Two eyes of base64 JPEG fit many times over; a larger frame drops the client (1009).
MAX_REPLY_BYTES = 4 << 20
EYE_SIDES = ('left', 'right')
GIL_SWITCH_INTERVAL_S = 0.0005
# How often joint_commands are taken between cycles (no client, or a slow one), seconds.
IDLE_TAKE_PERIOD_S = 0.02


class ReachyBridge(BridgeNode):
    """joint_commands in, joint_states / eyes / force sensors out, one sync client."""

    AFTER_LINK_DOWN = 'waiting for the next client'
    DEFAULT_NAMESPACE = 'reachy'
    # The sync loop keeps the asyncio thread busy: the executor thread (diagnostics,
    # services) must not make it wait the default 5 ms for the GIL, nor the other way round.
    GIL_SWITCH_INTERVAL_S = GIL_SWITCH_INTERVAL_S
    _server: WebSocketServer | None = None
    _description: String | None = None

    def __init__(self, loop: LoopThread, **kwargs: Any) -> None:
        kwargs.setdefault('namespace', self.DEFAULT_NAMESPACE)
        super().__init__('reachy_bridge', loop, **kwargs)

    def declare_bridge_parameters(self) -> None:
        params.declare(self, 'host', '127.0.0.1',
                       'Interface to listen on (0.0.0.0: all, as the seed did; ask for it).')
        params.declare(self, 'port', 6171, 'TCP port of the sync server.',
                       min_value=0, max_value=65535)
        params.declare(self, 'parts', list(PARTS),
                       'Parts present; the motors of a missing part are neither sent nor '
                       'published.')
        params.declare(self, 'binary_goals', True,
                       'Send goals as binary frames of UTF-8 JSON (the reference server); '
                       'false: text frames.')
        params.declare(self, 'client_timeout_s', 5.0,
                       'A client silent longer than this is warned about (it is kept: only '
                       'a connection that is gone is dropped), seconds.',
                       min_value=0.05, max_value=3600.0)
        params.declare(self, 'ping_interval_s', 20.0,
                       "Ping a client after this long without receiving anything (the SDK's "
                       'server does the same), seconds.', min_value=0.05, max_value=3600.0)
        params.declare(self, 'ping_timeout_s', 20.0,
                       'Nothing received for ping_interval_s + this, pongs included: the '
                       'connection is gone and the client dropped, seconds.',
                       min_value=0.05, max_value=3600.0)
        params.declare(self, 'joint_states_max_hz', 0.0,
                       'Most joint_states per second (0: one per answered cycle).',
                       min_value=0.0, max_value=100_000.0)
        params.declare(self, 'frame_id_prefix', '',
                       'Prefix of the eye frame ids (<prefix>left_eye, <prefix>right_eye).')
        params.declare(self, 'qos_depth', 10, 'History depth of every topic.',
                       min_value=1, max_value=100_000)
        params.declare(self, 'publish_description', True,
                       'Publish the URDF of the present parts on robot_description (latched); '
                       'false where robot_state_publisher publishes it.')
        declare_joint_table(self)

    def setup(self) -> None:
        parts = params.get_strings(self, 'parts')
        unknown = sorted(set(parts) - set(PARTS))
        if unknown:
            raise ValueError(f'parts: unknown {unknown}; known parts are {list(PARTS)}')
        table = read_joint_table(self)
        # Motors first, then disks: the order of the goal frame and of joint_states.
        joints = [j for j in table if j.part in parts and not j.is_disk]
        joints += [j for j in table if j.part in parts and j.is_disk]
        self._joints = joints
        self._wire_names = [j.wire_name for j in joints]
        self._motor_count = sum(not j.is_disk for j in joints)
        self._all_wire_names = frozenset(j.wire_name for j in table)
        self._command_index = {j.name: i for i, j in enumerate(joints)}
        self._encoder = GoalEncoder(self._wire_names[:self._motor_count],
                                    self._wire_names[self._motor_count:])
        self._binary = params.get(self, 'binary_goals')
        self._timeout_s = params.get(self, 'client_timeout_s')
        max_hz = params.get(self, 'joint_states_max_hz')
        self._joint_states_period = 1.0 / max_hz if max_hz > 0 else 0.0
        prefix = params.get(self, 'frame_id_prefix')
        self._eye_frame_ids = tuple(f'{prefix}{side}_eye' for side in EYE_SIDES)
        # Loop-thread state: goals and present positions in motor-frame degrees.
        self._goals = [j.to_motor(j.start_deg) for j in joints]
        self._present = list(self._goals)
        self._goal_frame: Frame | None = None
        self._last_reply = 0.0
        self._last_joint_states = -math.inf
        self._cycles = CycleWindow()
        self._counts = dict.fromkeys(
            ('cycles', 'replies_rejected', 'unknown_motor_names', 'positions_rejected',
             'eyes_rejected', 'forces_rejected', 'clients_silent', 'eye_frames'), 0)
        self._silence_warned = False
        self._eye_sizes = ['none', 'none']
        self._commands = dict.fromkeys(('commands', 'commands_rejected', 'goals_clamped'), 0)
        # Executor-thread state.
        self._fans = {fan: False for fan in FANS if fan.partition('.')[0] in parts}

        depth = params.get(self, 'qos_depth')
        qos = reliable(depth)
        self._joint_states_pub = self.make_publisher(JointState, 'joint_states', qos)
        self._compressed_pubs = [self.make_publisher(
            CompressedImage, f'{side}_eye/image_raw/compressed', qos) for side in EYE_SIDES]
        self._raw_pubs = [self.make_publisher(Image, f'{side}_eye/image_raw', qos)
                          for side in EYE_SIDES]
        self._force_pubs = [self.make_publisher(Float32, f'{side}_force_sensor', qos)
                            for side in EYE_SIDES]
        # Taken by the loop right before each goal frame is built (no executor hop).
        self._command_sub = self.make_loop_subscription(
            JointState, 'joint_commands', self._on_command, qos, limit=depth)
        self.make_service(SetFan, 'set_fan', self._on_set_fan)
        self._joint_state = JointState(name=[j.name for j in joints])
        self._description = None
        if params.get(self, 'publish_description'):
            # Sent once per activation, kept for late subscribers (as robot_state_publisher).
            self._description = String(data=urdf(joints, prefix))
            self._description_pub = self.make_publisher(String, 'robot_description', LATCHED)
        config = WebSocketServerConfig(port=params.get(self, 'port'),
                                       host=params.get(self, 'host'),
                                       max_message_bytes=MAX_REPLY_BYTES,
                                       ping_interval_s=params.get(self, 'ping_interval_s'),
                                       ping_timeout_s=params.get(self, 'ping_timeout_s'))
        self._server = WebSocketServer(config, self, outbox_size=1, takeover=True)

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        """Activate, then publish the robot description (the publisher is active now)."""
        result = super().on_activate(state)
        if self._description is not None:
            self._description_pub.publish(self._description)
        return result

    def teardown(self) -> None:
        """Destroy the ROS entities and drop the server."""
        super().teardown()
        self._server = None

    # -- the link (asyncio thread) -------------------------------------------------------

    async def run_link(self) -> None:
        """Listen for clients until closed; report a client that stops answering."""
        server = self._server
        assert server is not None
        watchdog = asyncio.ensure_future(self._watch_client(server))
        idle_take = asyncio.ensure_future(self._take_commands_between_cycles())
        try:
            await server.run()
        finally:
            watchdog.cancel()
            idle_take.cancel()

    async def close_link(self) -> None:
        """Close the client (close handshake) and stop listening."""
        if self._server is not None:
            await self._server.close()

    def link_up(self) -> None:
        super().link_up()
        assert self._server is not None
        self.get_logger().info(f'client {self._server.peer_address} is syncing')
        self._last_reply = time.monotonic()
        self._silence_warned = False
        self._cycles.reset()
        self._command_sub.take()
        # The outbox holds one frame: this replaces any left over from the last client.
        self._server.send(self._next_goal_frame())

    def link_down(self, reason: str) -> None:
        super().link_down(reason)
        self._cycles.reset()

    def link_frame(self, frame: Frame) -> None:
        now = time.monotonic()
        if self._silence_warned:
            self._silence_warned = False
            self.get_logger().info(f'client {self._server_peer()} answers again after '
                                   f'{now - self._last_reply:.1f} s')
        self._last_reply = now
        self._counts['cycles'] += 1
        self.stats.messages_in += 1
        self._cycles.tick(now)
        server = self._server
        if server is not None:
            # The commands that arrived by now go out in this frame. The next goals do not
            # depend on this reply: they leave first (the outbox task runs before the callback
            # below), and the client computes its next reply while this one is parsed.
            self._command_sub.take()
            server.send(self._next_goal_frame())
        asyncio.get_running_loop().call_soon(self._take_reply_guarded, frame, now)

    def _take_reply_guarded(self, frame: Frame, now: float) -> None:
        # A callback of its own, outside the transport's guard of link_frame: a publish
        # refused (the context shut down by SIGTERM meanwhile) must not reach the loop's
        # exception handler as a traceback.
        try:
            self._take_reply(frame, now)
        except Exception as exc:  # noqa: B902 - counted like a failing link_frame
            self.link_bad_frame(f'unusable reply: {describe_exception(exc)}')

    def _take_reply(self, frame: Frame, now: float) -> None:
        try:
            reply = parse_reply(frame, self._all_wire_names)
        except RemoteProtocolError as exc:
            self._counts['replies_rejected'] += 1
            self.count_bad_input(f'rejected a reply: {exc}')
        else:
            self._take_present(reply)
            self._publish(reply, now)
        # While the client computes its next reply: the commands that came meanwhile are
        # taken and the next frame encoded now, so that it leaves the moment the reply comes.
        self._command_sub.take()
        self._next_goal_frame()

    def _take_present(self, reply: Reply) -> None:
        present, goals = self._present, self._goals
        received = reply.present
        motors = self._motor_count
        for i, name in enumerate(self._wire_names):
            value = received.get(name)
            if value is not None:
                present[i] = value
            elif i >= motors:
                present[i] = goals[i]  # a disk without a present position reports its goal
        if reply.unknown_count:
            self._counts['unknown_motor_names'] += reply.unknown_count
            self.count_bad_input(f'unknown motor names: skipped {reply.unknown_count} '
                                 f'({", ".join(reply.unknown)})')
        self._counts['positions_rejected'] += reply.bad_positions
        for problem in reply.problems:
            if not problem.startswith('motor '):  # positions: counted just above
                key = 'eyes_rejected' if '_eye ' in problem else 'forces_rejected'
                self._counts[key] += 1
            self.count_bad_input(f'skipped part of a reply: {problem}')

    def _publish(self, reply: Reply, now: float) -> None:
        stamp = self.get_clock().now().to_msg()
        if now - self._last_joint_states >= self._joint_states_period:
            self._last_joint_states = now
            msg = self._joint_state
            msg.header.stamp = stamp
            radians = math.radians
            msg.position = [radians(j.to_joint(v)) for j, v in zip(self._joints, self._present)]
            self._joint_states_pub.publish(msg)
        for side, jpeg in enumerate((reply.left_eye, reply.right_eye)):
            if jpeg is not None:
                self._publish_eye(side, jpeg, stamp)
        for publisher, value in zip(self._force_pubs, (reply.left_force, reply.right_force)):
            publisher.publish(translate.force(value))

    def _publish_eye(self, side: int, jpeg: bytes, stamp: Any) -> None:
        frame_id = self._eye_frame_ids[side]
        self._counts['eye_frames'] += 1
        self._compressed_pubs[side].publish(translate.compressed_eye(jpeg, stamp, frame_id))
        size = f'{len(jpeg)} B'
        raw_pub = self._raw_pubs[side]
        if raw_pub.get_subscription_count() > 0:  # nobody watching: no decode
            try:
                image = translate.raw_eye(jpeg, stamp, frame_id)
            except RemoteProtocolError as exc:
                self._counts['eyes_rejected'] += 1
                self.count_bad_input(f'skipped part of a reply: {EYE_SIDES[side]}_eye {exc}')
            else:
                raw_pub.publish(image)
                size = f'{image.width}x{image.height}, {size}'
        self._eye_sizes[side] = size

    def _next_goal_frame(self) -> Frame:
        frame = self._goal_frame
        if frame is None:
            frame = self._goal_frame = self._encoder.encode(self._goals, self._binary)
        return frame

    def _set_goals(self, goals: list[tuple[int, float]]) -> None:
        for index, motor_deg in goals:
            self._goals[index] = motor_deg
        self._goal_frame = None  # re-encoded for the next cycle

    async def _take_commands_between_cycles(self) -> None:
        # Without a client (or with a slow one) commands are still taken, counted and
        # checked: the next client's first frame carries them.
        while True:
            await asyncio.sleep(IDLE_TAKE_PERIOD_S)
            self._command_sub.take()

    async def _watch_client(self, server: WebSocketServer) -> None:
        try:
            await server.wait_listening()
        except RuntimeError:
            return  # closed before it listened (the bind failed): run_link reports it
        self.get_logger().info(f'listening on {server.display_url}')
        while True:
            await asyncio.sleep(min(self._timeout_s / 4, 0.25))
            silent = self._client_silent_s()
            if silent > self._timeout_s and not self._silence_warned:
                # Kept: Unity never reconnects, so dropping a paused editor would end the
                # session for good. One warning per silence; a newer client may take over.
                self._silence_warned = True
                self._counts['clients_silent'] += 1
                self.get_logger().warning(
                    f'client {server.peer_address} sent no reply for {silent:.1f} s '
                    f'(client_timeout_s {self._timeout_s}): still waiting for it (a paused '
                    'Unity?); a new client would take over')

    def diagnostic_warning(self) -> str | None:
        """Say so while the client is silent past client_timeout_s (kept: a paused Unity)."""
        silent = self._client_silent_s()
        timeout = getattr(self, '_timeout_s', None)
        if timeout is None or silent <= timeout:
            return None
        return (f'client silent for {silent:.1f} s (client_timeout_s {timeout}): kept and '
                'waited for (a paused Unity?); a new client would take over')

    def _client_silent_s(self) -> float:
        """Return how long the connected client has not answered (0 with none)."""
        server = self._server
        if server is None or not server.connected:
            return 0.0
        return time.monotonic() - self._last_reply

    def _server_peer(self) -> str:
        return self._server.peer_address if self._server is not None else ''

    def _on_command(self, msg: JointState) -> None:
        try:
            goals, clamped = translate.command_goals(msg, self._command_index, self._joints)
        except LocalProtocolError as exc:
            self._commands['commands_rejected'] += 1
            self.count_bad_input(f'rejected a joint command: {exc}')
            return
        self._commands['commands'] += 1
        if clamped:
            self._commands['goals_clamped'] += clamped
            self.get_logger().info(f'clamped {clamped} goal(s) to the joint limits',
                                   throttle_duration_sec=1.0)
        self._set_goals(goals)

    # -- executor thread -----------------------------------------------------------------

    def _on_set_fan(self, request: SetFan.Request, response: SetFan.Response) -> Any:
        name = FAN_ALIASES.get(request.name, request.name)
        if name not in self._fans:
            response.success = False
            response.message = (f'unknown fan {excerpt(request.name)}; known fans: '
                                f'{", ".join(self._fans)}')
            return response
        self._fans[name] = request.enabled
        response.success = True
        response.message = (f'{name} {"on" if request.enabled else "off"} (kept by the '
                            'bridge: the Unity simulator has no fans)')
        return response

    # -- diagnostics ---------------------------------------------------------------------

    def hardware_id(self) -> str:
        """Return where the server listens."""
        return self._server.display_url if self._server is not None else ''

    def diagnostic_values(self) -> Iterable[tuple[str, str]]:
        """Report the client, the sync rate, cycle times, eyes, fans and rejected counts."""
        server = self._server
        if server is None:
            return ()
        cycle = self._cycles.current(time.monotonic())
        values: list[tuple[str, str]] = [
            ('client', server.peer_address or 'none'),
            ('client_silent_s', f'{self._client_silent_s():.1f}'),
            ('sync_rate_hz', f'{cycle.rate_hz:.1f}'),
            ('cycle_p50_ms', f'{cycle.p50_ms:.3f}'),
            ('cycle_p99_ms', f'{cycle.p99_ms:.3f}'),
            ('left_eye', self._eye_sizes[0]),
            ('right_eye', self._eye_sizes[1]),
            ('clients_refused', str(server.refused)),
            ('clients_replaced', str(server.replaced)),
        ]
        values += [(key, str(value)) for key, value in self._counts.items()]
        values += [(key, str(value)) for key, value in self._commands.items()]
        values.append(('fans', ', '.join(f'{fan}={"on" if on else "off"}'
                                         for fan, on in self._fans.items()) or 'none'))
        return values


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges reachy_bridge``."""
    return run_bridge(ReachyBridge, args)
