"""The link's end reported while the node shuts down: nothing raises on the loop thread."""

from typing import Iterator

import pytest
import rclpy
from robot_bridges.bridges.robot_chat_bridge import RobotChatBridge
from robot_bridges.runtime.loop_thread import LoopThread


@pytest.fixture
def bridge() -> Iterator[RobotChatBridge]:
    loop = LoopThread()
    context = rclpy.Context()
    rclpy.init(context=context)
    node = RobotChatBridge(loop, context=context, namespace='/shutdown_race',
                           enable_rosout=False)
    node.trigger_configure()  # its publishers exist, its link is not dialled
    yield node
    rclpy.try_shutdown(context=context)
    loop.stop()


def test_a_link_end_reported_after_the_node_was_destroyed_raises_nothing(
        bridge: RobotChatBridge) -> None:
    """The runner destroys the node while a close may still be ending on the loop thread."""
    bridge.destroy_node()
    assert bridge.context.ok()
    bridge.link_up()
    bridge.link_down('closed with code 1001 (going away)')
    assert not bridge.stats.connected
    assert bridge.stats.last_error == 'closed with code 1001 (going away)'


def test_a_link_end_reported_after_the_context_shut_down_raises_nothing(
        bridge: RobotChatBridge) -> None:
    """A signal shuts the context down from the main thread, at any point of a report."""
    rclpy.shutdown(context=bridge.context)
    bridge.link_up()
    bridge.link_down('closed with code 1006')
    assert not bridge.stats.connected and bridge.stats.last_error == 'closed with code 1006'
