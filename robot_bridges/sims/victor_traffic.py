"""
What the simulated Victor says: scripted, deterministic, protocol-shaped module data.

Pure functions of the robot clock; :mod:`robot_bridges.sims.victor_sim` sends them. Shapes
follow PROTOCOLS.md section 1 and the firmware's webViz senders; where the firmware's shape
was not available (the behavior tree), the shape here is inferred and says so.
"""

from __future__ import annotations

import math
from typing import Any

from robot_bridges.protocols.webviz import (CONFIDENCE_COUNT, DIRECTION_COUNT,
                                            DIRECTION_UNKNOWN, micdata_payload)

# -- micdata -----------------------------------------------------------------------------

#: The sound source circles the robot clockwise, one direction (30 degrees) per second.
SOURCE_STEPS_PER_S = 1.0
#: It speaks for 6 s, then is silent (direction unknown) for 1 s; the 7 s cycle against the
#: 12 s orbit lets every direction be heard within the first 20 s.
SPEECH_CYCLE_S = 7.0
SPEECH_S = 6.0
#: The trigger word is heard at the start of each burst of speech, for 100 ms.
TRIGGER_S = 0.1


def mic_source(robot_time: float) -> tuple[int, int, bool]:
    """Return (direction, confidence, trigger detected) of the scripted source at a time."""
    phase = robot_time % SPEECH_CYCLE_S
    if phase >= SPEECH_S:
        return DIRECTION_UNKNOWN, int(8 + 4 * math.sin(robot_time)), False
    direction = int(robot_time * SOURCE_STEPS_PER_S) % DIRECTION_COUNT
    confidence = int(150 + 60 * math.sin(2 * math.pi * robot_time / 4.7))
    return direction, confidence, phase < TRIGGER_S


def make_micdata(robot_time: float, direction: int, confidence: int, field: str = 'both', *,
                 trigger_detected: bool = False) -> dict[str, Any]:
    """
    Build a complete micdata payload (every field of PROTOCOLS.md section 1).

    ``field`` names the winning direction ``dominant``, ``direction`` or ``both``. The
    per-direction confidences peak at ``direction`` (index 12 when unknown); the other
    fields are plausible values derived from the three given.
    """
    known = 0 <= direction < DIRECTION_COUNT
    directions = []
    for index in range(DIRECTION_COUNT):
        if known:
            closeness = math.cos(math.pi / 6 * (index - direction))
            value = 2.0 + confidence * max(0.0, closeness) ** 4
        else:
            value = 2.0
        directions.append(round(value, 3))
    directions.append(float(confidence) if not known else 0.5)
    assert len(directions) == CONFIDENCE_COUNT
    return micdata_payload(
        robot_time, direction, confidence, field=field, trigger_detected=trigger_detected,
        delay_time_ms=(direction * 7) % 40 if known else 0,
        active_state=1 if known else 0,
        latest_power=round(1200.0 + 900.0 * confidence, 1),
        latest_noise_floor=1180.5,
        directions=directions,
        beat_confidence=0.0, tempo_bpm=0.0)


# -- animations (anim process) -----------------------------------------------------------

ANIMATIONS = ('anim_eyepose_happy', 'anim_lookaround_01', 'anim_observing_look_up_01',
              'anim_greeting_hello_01')
ANIMATION_PERIOD_S = 3.0
ANIMATION_LENGTH_S = 2.0


def animation_event(index: int, start: bool) -> dict[str, Any]:
    """Return the ``index``-th scripted animation's start or stop event."""
    return {'type': 'start' if start else 'stop', 'animation': ANIMATIONS[index % len(ANIMATIONS)]}


# -- observedobjects (engine) ------------------------------------------------------------

OBSERVE_PERIOD_S = 0.5
CUBE_ID = 1
CUBE_TYPE = 'Block_LIGHTCUBE1'
FACE_ID = 1


def observed_object(robot_time: float) -> dict[str, Any]:
    """Return a sighting of the light cube; ``timestamp`` is the robot clock in ms."""
    return {'type': 'RobotObservedObject', 'objectID': CUBE_ID, 'objectType': CUBE_TYPE,
            'isActive': 1, 'timestamp': int(robot_time * 1000)}


def deleted_object() -> dict[str, Any]:
    """Return the event that the cube's location was forgotten."""
    return {'type': 'RobotDeletedLocatedObject', 'objectID': CUBE_ID}


def deleted_face() -> dict[str, Any]:
    """Return the event that a face was forgotten."""
    return {'type': 'RobotDeletedFace', 'faceID': FACE_ID}


# -- intents (engine) --------------------------------------------------------------------

USER_INTENTS = ('greeting_hello', 'imperative_come', 'imperative_lookatme', 'play_fistbump',
                'system_sleep', 'unmatched_intent')
CLOUD_INTENTS = ('intent_greeting_hello', 'intent_imperative_come', 'intent_play_fistbump')
INTENT_PERIOD_S = 10.0


def intents_snapshot(pending_user_intent: str | None) -> list[dict[str, Any]]:
    """Return what the robot sends a new intents subscriber: current and all intents."""
    blobs: list[dict[str, Any]] = []
    if pending_user_intent is not None:
        blobs.append(current_intent('user', pending_user_intent)[0])
    blobs.append({'intentType': 'user', 'type': 'all-intents', 'list': list(USER_INTENTS)})
    blobs.append({'intentType': 'cloud', 'type': 'all-intents', 'list': list(CLOUD_INTENTS)})
    return blobs


def current_intent(intent_type: str, value: str) -> list[dict[str, Any]]:
    """Return the robot's push when an intent becomes pending."""
    return [{'intentType': intent_type, 'type': 'current-intent', 'value': value}]


def intent_for_request(request: Any) -> tuple[str, str] | None:
    """
    Return (intent type, intent) that a client's intents request sets pending, if any.

    As the firmware does: ``{"intentType": "user", "request": <known user intent>}`` or
    ``{"intentType": "cloud", "request": <anything>}``; everything else is ignored.
    """
    if not isinstance(request, dict):
        return None
    kind, value = request.get('intentType'), request.get('request')
    if not isinstance(value, str):
        return None
    if kind == 'user' and value in USER_INTENTS:
        return 'user', value
    if kind == 'cloud' and value:
        return 'cloud', value
    return None


# -- behaviors (engine) ------------------------------------------------------------------

BEHAVIOR_IDS = ('Wait', 'ObservingOnCharger', 'Exploring', 'FistBump', 'LookAtMe')


def behavior_tree() -> dict[str, Any]:
    """Return the behavior stack sent to a new subscriber (shape inferred, not from firmware)."""
    return {'behaviorID': 'CoordinateGlobalInterrupts', 'children': [
        {'behaviorID': 'HighLevelAI', 'children': [{'behaviorID': 'Exploring', 'children': []}]},
    ]}


def behavior_ids() -> list[str]:
    """Return the list of behavior IDs, sent after the tree."""
    return list(BEHAVIOR_IDS)
