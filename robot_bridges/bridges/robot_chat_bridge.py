"""Node robot_chat_bridge: the Robot Chat relay as ROS topics."""

from __future__ import annotations

from typing import Sequence

from robot_bridges.msg import RobotChatMessage
from robot_bridges.node import params
from robot_bridges.node.qos import LATCHED, reliable
from robot_bridges.node.runner import run_bridge
from robot_bridges.node.websocket_bridge import WebSocketBridge
from robot_bridges.protocols.robot_chat import (LocalProtocolError, parse_frame,
                                                RemoteProtocolError, UsersCount)
from robot_bridges.runtime.link import Frame
from robot_bridges.runtime.loop_thread import LoopThread
from robot_bridges.translate import robot_chat as translate
from std_msgs.msg import UInt32


class RobotChatBridge(WebSocketBridge):
    """inbox / outbox / connected_users over one websocket to the relay server."""

    DEFAULT_NAMESPACE = 'robot_chat'

    def __init__(self, loop: LoopThread, **kwargs: object) -> None:
        kwargs.setdefault('namespace', self.DEFAULT_NAMESPACE)
        super().__init__('robot_chat_bridge', loop, **kwargs)  # type: ignore[arg-type]

    def declare_bridge_parameters(self) -> None:
        params.declare(self, 'url', 'ws://127.0.0.1:5001', 'Robot Chat server, ws:// or wss://.')
        params.declare(self, 'outbox_queue_size', 100,
                       'Outbox messages kept while disconnected; overflow drops the oldest.',
                       min_value=1, max_value=1_000_000)
        params.declare(self, 'max_message_bytes', 1 << 20,
                       'Largest frame accepted; a larger one closes and reopens the link.',
                       min_value=1024, max_value=1 << 30)
        params.declare(self, 'qos_depth', 1000, 'History depth of inbox and outbox.',
                       min_value=1, max_value=1_000_000)
        params.declare(self, 'frame_id', 'robot_chat', 'header.frame_id of inbox messages.')
        self.declare_pacing_parameter('inbox')

    def setup(self) -> None:
        self.setup_client(params.get(self, 'url'),
                          max_message_bytes=params.get(self, 'max_message_bytes'),
                          outbox_size=params.get(self, 'outbox_queue_size'))
        self._frame_id = params.get(self, 'frame_id')
        depth = params.get(self, 'qos_depth')
        self._inbox = self.make_paced_publisher(RobotChatMessage, 'inbox', reliable(depth))
        self._users = self.make_publisher(UInt32, 'connected_users', LATCHED)
        self.make_subscription(RobotChatMessage, 'outbox', self._on_outbox, reliable(depth))

    # -- asyncio thread: hot path --------------------------------------------------------

    def link_down(self, reason: str) -> None:
        super().link_down(reason)
        # A late subscriber must not see a stale count.
        self.publish_unless_shut_down(self._users, UInt32(data=0))

    def link_frame(self, frame: Frame) -> None:
        try:
            event = parse_frame(frame)
        except RemoteProtocolError as exc:
            self.count_bad_input(f'ignored a frame from the server: {exc}')
            return
        self.stats.messages_in += 1
        if isinstance(event, UsersCount):
            self._users.publish(UInt32(data=event.count))
            return
        if event.nulled:
            self.stats.non_finite_nulled += event.nulled
        stamp = self.get_clock().now().to_msg()
        self._inbox.publish(translate.to_message(event, stamp, self._frame_id))

    # -- executor thread -----------------------------------------------------------------

    def _on_outbox(self, msg: RobotChatMessage) -> None:
        try:
            frame = translate.to_frame(msg)
        except LocalProtocolError as exc:
            self.count_bad_input(f'rejected an outbox message: json is {exc}')
            return
        self.send_frame(frame, 'outbox message')


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges robot_chat_bridge``."""
    return run_bridge(RobotChatBridge, args)
