"""The interfaces generated from msg/ and srv/ import and carry the documented fields."""

import math
from typing import Any

from robot_bridges.msg import MicDirection, RobotChatMessage
from robot_bridges.srv import CompileMicResults


def check_fields(msg: Any, expected: dict[str, str]) -> None:
    """Assert the message type declares exactly ``expected`` (field -> ROS type)."""
    assert type(msg).get_fields_and_field_types() == expected


def test_robot_chat_message_fields() -> None:
    msg = RobotChatMessage(type='message', json='{"a": 1}')
    check_fields(msg, {'header': 'std_msgs/Header', 'type': 'string', 'json': 'string'})
    assert (msg.type, msg.json) == ('message', '{"a": 1}')


def test_mic_direction_fields_and_unknown_constant() -> None:
    msg = MicDirection(direction=MicDirection.DIRECTION_UNKNOWN, azimuth=math.nan,
                       direction_confidences=[0.5] * 13)
    check_fields(msg, {
        'header': 'std_msgs/Header', 'direction': 'uint8', 'confidence': 'float',
        'azimuth': 'float', 'direction_confidences': 'sequence<float>',
        'trigger_detected': 'boolean', 'active_state': 'int32', 'robot_time': 'double',
        'selected_direction': 'uint8', 'max_confidence': 'float', 'delay_time_ms': 'int32',
        'latest_power_value': 'double', 'latest_noise_floor': 'double',
        'beat_confidence': 'float', 'beat_tempo_bpm': 'float'})
    assert MicDirection.DIRECTION_UNKNOWN == 12
    assert math.isnan(msg.azimuth) and len(msg.direction_confidences) == 13


def test_compile_mic_results_service() -> None:
    assert CompileMicResults.Request.get_fields_and_field_types() == {}
    response = CompileMicResults.Response(success=True, final_dominant=9,
                                          final_confidence=150.22857142857143, samples=35)
    check_fields(response, {'success': 'boolean', 'message': 'string', 'final_dominant': 'uint8',
                            'final_confidence': 'double', 'samples': 'uint32'})
    assert response.final_dominant == 9
