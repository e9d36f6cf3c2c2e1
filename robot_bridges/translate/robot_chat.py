"""Robot Chat events <-> robot_bridges/msg/RobotChatMessage."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from robot_bridges.msg import RobotChatMessage
from robot_bridges.protocols.robot_chat import ChatObject, encode_object


def to_message(event: ChatObject, stamp: Time, frame_id: str) -> RobotChatMessage:
    """Build the inbox message for a received chat object."""
    msg = RobotChatMessage(type=event.kind, json=event.text)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def to_frame(msg: RobotChatMessage) -> str:
    """Build the text frame for an outbox message; raises LocalProtocolError if not an object."""
    return encode_object(msg.json, msg.type)
