"""Node robot_chat_bridge: the Robot Chat relay as ROS topics."""

from __future__ import annotations

from typing import Iterable, Sequence

from robot_bridges.msg import RobotChatMessage
from robot_bridges.node import params
from robot_bridges.node.bridge_node import BridgeNode
from robot_bridges.node.qos import LATCHED, reliable
from robot_bridges.node.runner import run_bridge
from robot_bridges.protocols.robot_chat import (LocalProtocolError, parse_frame,
                                                RemoteProtocolError, UsersCount)
from robot_bridges.runtime.link import Frame
from robot_bridges.runtime.loop_thread import LoopThread
from robot_bridges.runtime.redact import url_secrets
from robot_bridges.runtime.websocket_client import (check_url, WebSocketClient,
                                                    WebSocketClientConfig)
from robot_bridges.translate import robot_chat as translate
from std_msgs.msg import UInt32


class RobotChatBridge(BridgeNode):
    """inbox / outbox / connected_users over one websocket to the relay server."""

    def __init__(self, loop: LoopThread, **kwargs: object) -> None:
        kwargs.setdefault('namespace', 'robot_chat')
        super().__init__('robot_chat_bridge', loop, **kwargs)  # type: ignore[arg-type]
        self._client: WebSocketClient | None = None

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

    def setup(self) -> None:
        url = params.get(self, 'url')
        self.secrets = url_secrets(url)
        check_url(url)
        config = WebSocketClientConfig(url=url, backoff=self.backoff(),
                                       max_message_bytes=params.get(self, 'max_message_bytes'))
        self._client = WebSocketClient(config, self,
                                       outbox_size=params.get(self, 'outbox_queue_size'))
        self._frame_id = params.get(self, 'frame_id')
        depth = params.get(self, 'qos_depth')
        self._inbox = self.make_publisher(RobotChatMessage, 'inbox', reliable(depth))
        self._users = self.make_publisher(UInt32, 'connected_users', LATCHED)
        self.make_subscription(RobotChatMessage, 'outbox', self._on_outbox, reliable(depth))

    def teardown(self) -> None:
        super().teardown()
        self._client = None

    async def run_link(self) -> None:
        assert self._client is not None
        await self._client.run()

    async def close_link(self) -> None:
        if self._client is not None:
            await self._client.close()

    def hardware_id(self) -> str:
        return self._client.display_url if self._client else ''

    def diagnostic_values(self) -> Iterable[tuple[str, str]]:
        queued = len(self._client.outbox) if self._client else 0
        return (('outbox_queued', str(queued)),)

    # -- asyncio thread: hot path --------------------------------------------------------

    def link_down(self, reason: str) -> None:
        super().link_down(reason)
        if self.context.ok():
            self._users.publish(UInt32(data=0))  # a late subscriber must not see a stale count

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
        stamp = self.get_clock().now().to_msg()
        self._inbox.publish(translate.to_message(event, stamp, self._frame_id))

    # -- executor thread -----------------------------------------------------------------

    def _on_outbox(self, msg: RobotChatMessage) -> None:
        if not self.is_active or self._client is None:
            self.count_dropped('outbox message while the node is not active')
            return
        try:
            frame = translate.to_frame(msg)
        except LocalProtocolError as exc:
            self.count_bad_input(f'rejected an outbox message: json is {exc}')
            return
        self.loop.call_soon(self._enqueue, self._client, frame)

    def _enqueue(self, client: WebSocketClient, frame: str) -> None:
        if not client.send(frame):
            self.count_dropped('outbox queue full: dropped the oldest message')


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges robot_chat_bridge``."""
    return run_bridge(RobotChatBridge, args)
