"""
Reachy protocol values <-> ROS messages: joints in radians, eyes as images, forces.

Pure functions. Joint commands arrive in joint-frame radians (``sensor_msgs/JointState``)
and leave as motor-frame degrees; present positions come back the same way round. Eyes are
published as received (CompressedImage, never re-encoded) and decoded to rgb8 only when asked.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from builtin_interfaces.msg import Time
from robot_bridges.protocols.errors import LocalProtocolError, RemoteProtocolError
from robot_bridges.protocols.reachy_joints import Joint
from robot_bridges.protocols.text import excerpt
from sensor_msgs.msg import CompressedImage, Image, JointState
import simplejpeg
from std_msgs.msg import Float32

# A JointState command may name each joint once; more names than this is not a command.
MAX_COMMAND_JOINTS = 1000


def command_goals(msg: JointState, index: Mapping[str, int],
                  joints: Sequence[Joint]) -> tuple[list[tuple[int, float]], int]:
    """
    Turn a ``joint_commands`` message into (table index, motor-frame degrees) goals.

    ``index`` maps the ROS names of the joints that may be commanded to their position in
    ``joints``. Positions are joint-frame radians; each goal is clamped to its joint's
    limits, and the second value says how many were. Velocity and effort are ignored.
    Raises :class:`LocalProtocolError` (nothing of the message is used) for a names/
    positions length mismatch, an unknown or repeated name, or a non-finite position.
    """
    names, positions = msg.name, msg.position
    if len(names) != len(positions):
        raise LocalProtocolError(f'{len(names)} names but {len(positions)} positions')
    if len(names) > MAX_COMMAND_JOINTS:
        raise LocalProtocolError(f'{len(names)} names: more than there are joints')
    goals: list[tuple[int, float]] = []
    seen: set[int] = set()
    clamped = 0
    for name, radians in zip(names, positions):
        where = index.get(name)
        if where is None:
            raise LocalProtocolError(f'unknown joint {excerpt(name)} (known: '
                                     f'{", ".join(index)})')
        if where in seen:
            raise LocalProtocolError(f'joint {name!r} named twice')
        if not math.isfinite(radians):
            raise LocalProtocolError(f'joint {name!r}: position {radians} is not finite')
        seen.add(where)
        joint = joints[where]
        degrees = math.degrees(radians)
        limited = joint.clamp(degrees)
        # Radians that were exactly a limit may come back a rounding error outside it.
        if limited != degrees and abs(limited - degrees) > 1e-9:
            clamped += 1
        goals.append((where, joint.to_motor(limited)))
    return goals, clamped


def joint_state(names: Sequence[str], motor_deg: Sequence[float], joints: Sequence[Joint],
                stamp: Time) -> JointState:
    """Build ``joint_states``: motor-frame degrees of ``joints`` to joint-frame radians."""
    msg = JointState(name=list(names))
    msg.header.stamp = stamp
    radians = math.radians
    msg.position = [radians(joint.to_joint(value)) for joint, value in zip(joints, motor_deg)]
    return msg


def compressed_eye(jpeg: bytes, stamp: Time, frame_id: str) -> CompressedImage:
    """Wrap the client's JPEG bytes, as received, in a CompressedImage (format ``jpeg``)."""
    msg = CompressedImage(format='jpeg', data=jpeg)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def raw_eye(jpeg: bytes, stamp: Time, frame_id: str) -> Image:
    """
    Decode the client's JPEG into an rgb8 Image.

    Raises :class:`RemoteProtocolError` when the bytes start like a JPEG but do not decode.
    """
    try:
        pixels = simplejpeg.decode_jpeg(jpeg, colorspace='RGB')
    except (ValueError, RuntimeError) as exc:
        raise RemoteProtocolError(f'eye JPEG does not decode ({excerpt(str(exc))})') from None
    height, width = pixels.shape[:2]
    msg = Image(height=height, width=width, encoding='rgb8', is_bigendian=0, step=width * 3,
                data=pixels.tobytes())
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def force(value: float | None) -> Float32:
    """Return the force sensor message: the client's value, NaN when it sent none."""
    return Float32(data=math.nan if value is None else value)
