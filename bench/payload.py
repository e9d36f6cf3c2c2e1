"""
What the load carries: phase, sequence number and send time, for each case's payload.

A sample is ``(phase, seq, sent_ns)``; ``sent_ns`` is ``time.monotonic_ns()`` in the sender,
comparable across processes because CLOCK_MONOTONIC is system-wide on Linux. Pure Python:
the sender imports this without rclpy.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

WARM, PACED, BURST, END = 0, 1, 2, 3
PHASE_NAMES = {PACED: 'paced', BURST: 'burst'}

# Typical chat text, so that a frame is about as long as a real chat object (~160 bytes).
_CHAT_PAD = 'anyone near the charger? battery at 80%, turning left'


class Sample(NamedTuple):
    """One received load message; for END, ``seq`` is the phase that ended."""

    phase: int
    seq: int
    sent_ns: int


def chat_frame(phase: int, seq: int, sent_ns: int) -> str:
    """Encode a Robot Chat load object as a text frame."""
    return json.dumps({'type': 'bench', 'user': 'bench', 'phase': phase, 'seq': seq,
                       't_ns': sent_ns, 'message': _CHAT_PAD})


def from_chat_json(text: str) -> Sample | None:
    """Decode the sample in a Robot Chat frame; None for any other object (users counts)."""
    value = json.loads(text)
    if value.get('type') != 'bench':
        return None
    return Sample(value['phase'], value['seq'], value['t_ns'])


def letsrobot_command(robot_id: str, phase: int, seq: int, sent_ns: int) -> dict[str, Any]:
    """Encode a LetsRobot command_to_robot payload: the command carries the sample."""
    return {'robot_id': robot_id, 'command': f'{phase}.{seq}.{sent_ns}', 'user': 'bench',
            'key_position': 'down', 'anonymous': False}


def from_letsrobot_command(command: str) -> Sample | None:
    """Decode the sample in a LetsRobot command string."""
    phase, seq, sent_ns = command.split('.')
    return Sample(int(phase), int(seq), int(sent_ns))


def from_letsrobot_json(text: str) -> Sample | None:
    """Decode a raw command_to_robot payload republished as JSON text."""
    return from_letsrobot_command(json.loads(text)['command'])


def mic_fields(phase: int, seq: int) -> tuple[int, int]:
    """
    Encode phase and seq as the micdata ``(direction, confidence)``.

    The direction (0..11) holds the phase; the confidence holds seq, exact up to 2**24 in the
    bridge's float32.
    """
    return phase, seq


def from_mic(robot_time_s: float, direction: int, confidence: float) -> Sample:
    """Decode a micdata push whose robot time is the send time in seconds."""
    return Sample(int(direction), int(confidence), round(robot_time_s * 1e9))


def from_micdata_json(text: str) -> Sample | None:
    """Decode a raw webViz micdata frame; None for any other frame."""
    value: dict[str, Any] = json.loads(text)
    data = value.get('data')
    if value.get('module') != 'micdata' or not isinstance(data, dict):
        return None
    direction = data['direction'] if 'direction' in data else data['dominant']
    return from_mic(data['time'], direction, data['confidence'])
