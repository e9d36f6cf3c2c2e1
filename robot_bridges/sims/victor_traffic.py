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
#: The trigger word is heard at the start of each burst of speech; the robot holds
#: ``triggerDetected`` for its 2 s display window (a level, not a one-sample pulse).
TRIGGER_S = 2.0
#: The firmware's cadence: a 0.1 s gate checked on the 33 ms animation tick, so one push
#: every 4 ticks (faceInfoScreenManager.cpp: ``nextWebServerUpdateTime = currentTime + 0.1``).
MICDATA_PERIOD_S = 0.132
#: The robot's confidence display never scales below this (``confMaxDefault``).
MAX_CONFIDENCE_FLOOR = 1000.0


def mic_source(robot_time: float) -> tuple[int, int, bool]:
    """Return (direction, confidence, trigger detected) of the scripted source at a time."""
    phase = robot_time % SPEECH_CYCLE_S
    if phase >= SPEECH_S:
        return DIRECTION_UNKNOWN, 0, False
    direction = int(robot_time * SOURCE_STEPS_PER_S) % DIRECTION_COUNT
    confidence = int(150 + 60 * math.sin(2 * math.pi * robot_time / 4.7))
    return direction, confidence, phase < TRIGGER_S


def make_micdata(robot_time: float, direction: int, confidence: int, field: str = 'both', *,
                 trigger_detected: bool = False) -> dict[str, Any]:
    """
    Build a complete micdata payload (every field of PROTOCOLS.md section 1).

    ``field`` names the winning direction ``dominant``, ``direction`` or ``both``. As the
    firmware sends it: the per-direction confidences peak at ``direction`` and
    ``directions[12]`` is always 0; an unknown direction has confidence 0 and all 13
    confidences 0 (``confidence`` is then ignored); the beat detector is off (-1 / -1).
    The other fields are plausible values derived from the three given.
    """
    known = 0 <= direction < DIRECTION_COUNT
    if not known:
        direction, confidence = DIRECTION_UNKNOWN, 0
    directions = []
    for index in range(DIRECTION_COUNT):
        if known:
            closeness = math.cos(math.pi / 6 * (index - direction))
            value = 2.0 + confidence * max(0.0, closeness) ** 4
        else:
            value = 0.0
        directions.append(round(value, 3))
    directions.append(0.0)
    assert len(directions) == CONFIDENCE_COUNT
    return micdata_payload(
        robot_time, direction, confidence, field=field, trigger_detected=trigger_detected,
        max_confidence=max(MAX_CONFIDENCE_FLOOR, float(confidence)),
        delay_time_ms=(direction * 7) % 40 if known else 0,
        active_state=1 if known else 0,
        latest_power=round(1200.0 + 900.0 * confidence, 1),
        latest_noise_floor=1180.5,
        directions=directions)


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


def observed_face(robot_time: float) -> dict[str, Any]:
    """Return a sighting of a face, as faceWorld.cpp sends it to observedobjects."""
    return {'type': 'RobotObservedFace', 'faceID': FACE_ID, 'name': 'Ada',
            'timestamp': int(robot_time * 1000), 'originID': 1}


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


def behavior_tree(robot_time: float = 0.0) -> dict[str, Any]:
    """
    Return the behaviors push: ``{time, tree: [{behaviorID, parent}], stack}``.

    The tree lists each behavior with its parent's ID ('' at the root); the stack is the
    active path from the root. Shape from the issue's reading of the firmware; the values
    are this simulator's.
    """
    tree = [{'behaviorID': 'CoordinateGlobalInterrupts', 'parent': ''},
            {'behaviorID': 'HighLevelAI', 'parent': 'CoordinateGlobalInterrupts'},
            {'behaviorID': 'Exploring', 'parent': 'HighLevelAI'}]
    return {'time': robot_time, 'tree': tree,
            'stack': ['CoordinateGlobalInterrupts', 'HighLevelAI', 'Exploring']}


def behavior_ids() -> list[str]:
    """Return the list of behavior IDs, sent after the tree."""
    return list(BEHAVIOR_IDS)


# -- soundreactions, speechrecognizersys (served by the engine as well) --------------------

def speech_recognizer_result(index: int) -> dict[str, Any]:
    """
    Return a trigger-word recognition, the fields micDataSystem.cpp sends.

    ``speechrecognizersys`` (what the recognizer heard, and why it was ignored, if so).
    """
    start_ms = index * 7000
    return {'result': 'HeyVector', 'startTime_ms': start_ms, 'endTime_ms': start_ms + 640,
            'startSampleIndex': start_ms * 16, 'endSampleIndex': (start_ms + 640) * 16,
            'score': 612.0 + index % 5, 'notch': False, 'playback': False}


def sound_reaction(robot_time: float, direction: int) -> dict[str, Any]:
    """Return a ``soundreactions`` event (shape inferred: the firmware's is not public)."""
    return {'time': robot_time, 'direction': direction, 'reacted': True}
