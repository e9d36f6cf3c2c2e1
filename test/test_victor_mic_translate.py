"""Victor directions as REP-103 azimuths, and micdata samples as MicDirection messages."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
import numpy as np
import pytest
from robot_bridges.msg import MicDirection
from robot_bridges.protocols.webviz import MicData
from robot_bridges.translate.victor_mic import azimuth, to_message, to_pose

# Direction d is d * 30 degrees clockwise from straight ahead; REP-103 azimuths run
# counter-clockwise, in (-180, 180] degrees.
EXPECTED_DEGREES = {0: 0.0, 1: -30.0, 2: -60.0, 3: -90.0, 4: -120.0, 5: -150.0, 6: 180.0,
                    7: 150.0, 8: 120.0, 9: 90.0, 10: 60.0, 11: 30.0}


@pytest.mark.parametrize('direction', range(12))
def test_azimuth_of_each_known_direction(direction: int) -> None:
    value = azimuth(direction)
    assert value == pytest.approx(math.radians(EXPECTED_DEGREES[direction]), abs=1e-12)
    assert -math.pi < value <= math.pi
    wrapped = math.remainder(-direction * math.pi / 6, 2 * math.pi)
    assert math.cos(value - wrapped) == pytest.approx(1.0)  # the same angle as -d*pi/6


def test_straight_ahead_is_zero_and_behind_is_plus_pi() -> None:
    assert azimuth(0) == 0.0 and math.copysign(1.0, azimuth(0)) == 1.0
    assert azimuth(6) == math.pi
    assert azimuth(3) == -math.pi / 2  # 3 o'clock is to the robot's right


@pytest.mark.parametrize('direction', [12, 13, -1, 255])
def test_unknown_direction_has_no_azimuth(direction: int) -> None:
    assert math.isnan(azimuth(direction))


def test_all_13_directions_through_the_message() -> None:
    # float32 in the message: pi becomes the nearest float32, which is still the same angle.
    for direction in range(13):
        msg = to_message(MicData(1.0, direction, 100, [], False, 0), Time(), 'mic')
        if direction == 12:
            assert math.isnan(msg.azimuth)
        else:
            assert msg.azimuth == pytest.approx(azimuth(direction), abs=1e-6)


def test_message_fields() -> None:
    confidences = [float(i) for i in range(13)]
    sample = MicData(robot_time=1234.5, direction=9, confidence=150, directions=confidences,
                     trigger_detected=True, active_state=1)
    stamp = Time(sec=10, nanosec=20)
    msg = to_message(sample, stamp, 'victor_mic')
    assert isinstance(msg, MicDirection)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (10, 20)
    assert msg.header.frame_id == 'victor_mic'
    assert msg.direction == 9 and msg.confidence == 150.0
    assert msg.azimuth == pytest.approx(math.pi / 2)
    assert list(msg.direction_confidences) == confidences
    assert msg.trigger_detected is True and msg.active_state == 1
    assert msg.robot_time == 1234.5


def test_integer_confidences_and_no_confidences() -> None:
    msg = to_message(MicData(2.0, 1, 7, list(range(13)), False, 0), Time(), '')
    assert np.array_equal(np.asarray(msg.direction_confidences), np.arange(13))
    empty = to_message(MicData(math.nan, 12, 0, [], False, 0), Time(), '')
    assert len(empty.direction_confidences) == 0
    assert math.isnan(empty.robot_time)


@pytest.mark.parametrize('direction', range(12))
def test_pose_yaw_is_the_azimuth(direction: int) -> None:
    msg = to_pose(direction, Time(sec=3), 'victor_mic')
    q = msg.pose.orientation
    assert (q.x, q.y) == (0.0, 0.0) and q.w >= 0.0
    assert q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2 == pytest.approx(1.0)
    assert 2.0 * math.atan2(q.z, q.w) == pytest.approx(azimuth(direction), abs=1e-12)
    assert msg.header.frame_id == 'victor_mic' and msg.header.stamp.sec == 3


def test_an_unknown_direction_has_no_pose() -> None:
    with pytest.raises(ValueError, match='unknown'):
        to_pose(12, Time(), 'victor_mic')


def test_the_firmware_fields_reach_the_message() -> None:
    sample = MicData(1.0, 9, 150, [], False, 1, selected_direction=8, max_confidence=1000.0,
                     delay_time_ms=17, latest_power_value=135000.25, latest_noise_floor=1180.5,
                     beat_confidence=-1.0, beat_tempo_bpm=-1.0)
    msg = to_message(sample, Time(), 'm')
    assert (msg.selected_direction, msg.max_confidence, msg.delay_time_ms) == (8, 1000.0, 17)
    assert (msg.latest_power_value, msg.latest_noise_floor) == (135000.25, 1180.5)
    assert (msg.beat_confidence, msg.beat_tempo_bpm) == (-1.0, -1.0)
    missing = to_message(MicData(1.0, 9, 150, [], False, 1), Time(), 'm')
    assert missing.selected_direction == 12 and missing.delay_time_ms == -1
    assert math.isnan(missing.max_confidence) and math.isnan(missing.beat_tempo_bpm)
