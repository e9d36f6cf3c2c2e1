"""
Victor micdata -> robot_bridges/msg/MicDirection and geometry_msgs/PoseStamped.

The robot's directions become REP-103 azimuths; a known direction is also a pose whose yaw
is the azimuth (rviz draws it as an arrow in the microphone frame).
"""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseStamped
from robot_bridges.msg import MicDirection
from robot_bridges.protocols.webviz import DIRECTION_COUNT, MicData

STEP_RAD = 2.0 * math.pi / DIRECTION_COUNT


def _azimuth_of(direction: int) -> float:
    # Direction d is d steps clockwise; REP-103 counts counter-clockwise, so the azimuth is
    # -d steps. Work in whole steps, wrapped into (-6, 6], so that every value is exact
    # (6 steps gives math.pi itself, not a rounding of it).
    steps = -direction % DIRECTION_COUNT
    if steps > DIRECTION_COUNT // 2:
        steps -= DIRECTION_COUNT
    return steps * STEP_RAD


_AZIMUTHS = tuple(_azimuth_of(d) for d in range(DIRECTION_COUNT))


def azimuth(direction: int) -> float:
    """
    Return the REP-103 azimuth of a robot direction, radians in (-pi, pi]; NaN if unknown.

    Direction 0 is straight ahead and directions run clockwise in 30 degree steps, so
    direction d maps to -d * pi / 6, wrapped. Anything outside 0..11 is unknown.
    """
    if 0 <= direction < DIRECTION_COUNT:
        return _AZIMUTHS[direction]
    return math.nan


def to_message(sample: MicData, stamp: Time, frame_id: str) -> MicDirection:
    """Build the message for one validated micdata sample; ``stamp`` is the receive time."""
    msg = MicDirection(
        direction=sample.direction,
        confidence=float(sample.confidence),
        azimuth=azimuth(sample.direction),
        trigger_detected=sample.trigger_detected,
        active_state=sample.active_state,
        robot_time=float(sample.robot_time),
        selected_direction=sample.selected_direction,
        max_confidence=float(sample.max_confidence),
        delay_time_ms=sample.delay_time_ms,
        latest_power_value=float(sample.latest_power_value),
        latest_noise_floor=float(sample.latest_noise_floor),
        beat_confidence=float(sample.beat_confidence),
        beat_tempo_bpm=float(sample.beat_tempo_bpm),
    )
    # The decoded list goes in as is: the message stores it as array('f') in one step.
    msg.direction_confidences = sample.directions
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def to_pose(direction: int, stamp: Time, frame_id: str) -> PoseStamped:
    """
    Return the pose at the frame's origin facing a known direction (0..11): yaw = azimuth.

    The quaternion of a rotation by yaw about z is (0, 0, sin(yaw/2), cos(yaw/2)).
    Raises ValueError for an unknown direction (it has no yaw: publish nothing).
    """
    yaw = azimuth(direction)
    if math.isnan(yaw):
        raise ValueError(f'direction {direction} is unknown: it has no pose')
    msg = PoseStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.pose.orientation.z = math.sin(yaw / 2.0)
    msg.pose.orientation.w = math.cos(yaw / 2.0)
    return msg
