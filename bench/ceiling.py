"""
The intake ceiling's publisher: a plain rclpy publisher, paced, to the bench subscriber.

It publishes the case's message (built as the bridge builds it, see below) to the
same kind of subscriber process the bridge and the floor feed, one message every
``--period-us`` microseconds at absolute deadlines (no drift), so that the delivered rate is
what the subscriber takes when nobody outruns it. Warm-up messages for a second once the
subscriber is matched, then ``--count`` burst messages and the end marker; then it waits for
the subscriber's acknowledgements and spins until SIGINT. ``run.py`` sweeps the period.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable, Sequence

from builtin_interfaces.msg import Time
import payload
from payload import BURST, END, WARM
from rclpy.duration import Duration
from rclpy.node import Node
from robot_bridges.msg import LetsRobotCommand, MicDirection, RobotChatMessage
from robot_bridges.node.qos import reliable
from robot_bridges.protocols import webviz
from robot_bridges.protocols.letsrobot import parse_command
from robot_bridges.protocols.robot_chat import ChatObject, parse_frame
from robot_bridges.translate import robot_chat as robot_chat_translate
from robot_bridges.translate import victor_mic
from robot_bridges.translate.letsrobot import command_message
from spin import init, spin_until_stopped

MATCH_TIMEOUT_S = 20.0
WARM_UP_S = 1.0
WARM_UP_PERIOD_S = 0.05
ACK_TIMEOUT_S = 30.0
STAMP = Time()  # the subscriber reads the send time from the payload, not the header


# Each message is built by the bridge's own parse and translate functions from the frame the
# case's load sends, so it is the bridge's message, field for field.
def victor(phase: int, seq: int, sent_ns: int) -> MicDirection:
    """Return the mic_direction victor_mic_bridge publishes for this push."""
    direction, confidence = payload.mic_fields(phase, seq)
    sample = webviz.parse_micdata(webviz.micdata_payload(sent_ns / 1e9, direction, confidence))
    return victor_mic.to_message(sample, STAMP, 'victor_mic')


def robot_chat(phase: int, seq: int, sent_ns: int) -> RobotChatMessage:
    """Return the inbox message robot_chat_bridge publishes for this frame."""
    event = parse_frame(payload.chat_frame(phase, seq, sent_ns))
    assert isinstance(event, ChatObject)
    return robot_chat_translate.to_message(event, STAMP, 'robot_chat')


def letsrobot(phase: int, seq: int, sent_ns: int) -> LetsRobotCommand:
    """Return the command letsrobot_bridge publishes for this command_to_robot."""
    command = parse_command(payload.letsrobot_command('bench', phase, seq, sent_ns))
    return command_message(command, STAMP, from_owner=False)


# The subscriber's --kind -> (message type, builder).
KINDS: dict[str, tuple[type, Callable[[int, int, int], Any]]] = {
    'victor': (MicDirection, victor),
    'robot_chat': (RobotChatMessage, robot_chat),
    'letsrobot': (LetsRobotCommand, letsrobot),
}


def publish_paced(node: Node, kind: str, topic: str, depth: int, period_s: float,
                  count: int) -> bool:
    """Warm up, then publish the paced burst; False if no subscriber matched in time."""
    msg_type, build = KINDS[kind]
    publisher = node.create_publisher(msg_type, topic, reliable(depth))
    deadline = time.monotonic() + MATCH_TIMEOUT_S
    while publisher.get_subscription_count() < 1:
        if time.monotonic() > deadline:
            return False
        time.sleep(WARM_UP_PERIOD_S)
    for seq in range(round(WARM_UP_S / WARM_UP_PERIOD_S)):
        publisher.publish(build(WARM, seq, time.monotonic_ns()))
        time.sleep(WARM_UP_PERIOD_S)
    start = time.monotonic()
    for seq in range(count):
        delay = start + seq * period_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        publisher.publish(build(BURST, seq, time.monotonic_ns()))
    publisher.publish(build(END, BURST, time.monotonic_ns()))
    publisher.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S))
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Publish one paced burst, then spin until SIGINT (exit 1 if nobody subscribed)."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--kind', choices=sorted(KINDS), required=True)
    parser.add_argument('--topic', required=True)
    parser.add_argument('--depth', type=int, required=True)
    parser.add_argument('--period-us', type=float, required=True)
    parser.add_argument('--count', type=int, required=True)
    args = parser.parse_args(argv)
    init()
    node = Node('bench_ceiling')
    if not publish_paced(node, args.kind, args.topic, args.depth, args.period_us / 1e6,
                         args.count):
        node.destroy_node()
        return 1
    return spin_until_stopped(node)


if __name__ == '__main__':
    raise SystemExit(main())
