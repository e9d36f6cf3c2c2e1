"""
The Reachy joint table: ROS joint names, wire motor names, offsets, orientations, limits.

The wire carries motor-frame degrees; ROS carries joint-frame radians (REP-103). For every
joint ``motor_deg = (joint_deg + offset_deg) * (+1 if direct else -1)``, and back
``joint_deg = motor_deg * (+1 if direct else -1) - offset_deg``.

The limits a row holds are MOTOR-frame degrees, as the Reachy 2019 SDK keeps them (its
``angle-limits``, written into the Dynamixel itself: ``reachy/utils/setup_angle_limits.py``
of PyPI ``reachy-2019`` 1.4.0); the joint-frame bounds follow from them, as the SDK's
``attach_kinematic_chain`` derives them (``reachy/parts/part.py``). For an indirect motor the
two frames run opposite ways: the elbow's motor limits 0 .. 125 are the joint bounds
-125 .. 0. The defaults are the SDK's table (PROTOCOLS.md §4) with the ROS names of the later
Reachy ROS 2 convention. Pure: no ROS, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Iterable, Mapping

# Orbita neck disks travel in their own "disks" array and start at this position.
DISK_PREFIX = 'head.disk_'
DISK_START_DEG = -60.0
# The legacy table gives no limits for the disks; a full turn either way bounds them.
DISK_LIMIT_DEG = 180.0
PARTS = ('left_arm', 'right_arm', 'head')


@dataclass(frozen=True, slots=True)
class Joint:
    """One row of the table; construction checks it (ValueError names the joint)."""

    name: str
    wire_name: str
    offset_deg: float = 0.0
    direct: bool = True
    motor_min_deg: float = -180.0
    motor_max_deg: float = 180.0

    def __post_init__(self) -> None:
        where = f'joint {self.wire_name!r}'
        if not self.name or not self.wire_name:
            raise ValueError(f'{where}: the ROS name and the wire name must not be empty')
        if self.part not in PARTS:
            raise ValueError(f'{where}: the wire name must start with one of {PARTS}')
        for field in ('offset_deg', 'motor_min_deg', 'motor_max_deg'):
            if not math.isfinite(getattr(self, field)):
                raise ValueError(f'{where}: {field} must be finite')
        if self.motor_min_deg > self.motor_max_deg:
            raise ValueError(f'{where}: motor_min_deg {self.motor_min_deg} exceeds '
                             f'motor_max_deg {self.motor_max_deg}')

    @property
    def min_deg(self) -> float:
        """Return the lower joint-frame bound, degrees (from the motor limits)."""
        # + 0.0: an indirect motor's limit 0 is the joint's -0.0, shown as 0.
        return min(self.to_joint(self.motor_min_deg), self.to_joint(self.motor_max_deg)) + 0.0

    @property
    def max_deg(self) -> float:
        """Return the upper joint-frame bound, degrees (from the motor limits)."""
        return max(self.to_joint(self.motor_min_deg), self.to_joint(self.motor_max_deg)) + 0.0

    @property
    def part(self) -> str:
        """Return the part the motor belongs to: left_arm, right_arm or head."""
        return self.wire_name.partition('.')[0]

    @property
    def is_disk(self) -> bool:
        """Whether this is an Orbita disk (sent in "disks", not "motors")."""
        return self.wire_name.startswith(DISK_PREFIX)

    @property
    def sign(self) -> float:
        """Return +1.0 for a direct motor, -1.0 for an indirect one."""
        return 1.0 if self.direct else -1.0

    @property
    def start_deg(self) -> float:
        """Return the joint-frame goal before any command: -60 for disks, else 0 (clamped)."""
        return self.clamp(DISK_START_DEG if self.is_disk else 0.0)

    def to_motor(self, joint_deg: float) -> float:
        """Joint-frame degrees to the motor-frame degrees the wire carries."""
        return (joint_deg + self.offset_deg) * self.sign

    def to_joint(self, motor_deg: float) -> float:
        """Motor-frame degrees from the wire to joint-frame degrees."""
        return motor_deg * self.sign - self.offset_deg

    def clamp(self, joint_deg: float) -> float:
        """Clamp joint-frame degrees into the joint bounds."""
        return min(max(joint_deg, self.min_deg), self.max_deg)

    def clamp_motor(self, motor_deg: float) -> float:
        """Clamp motor-frame degrees into the motor limits."""
        return min(max(motor_deg, self.motor_min_deg), self.motor_max_deg)


def _arm(side: str, prefix: str, pitch: tuple[float, bool, float, float],
         roll: tuple[float, bool, float, float],
         gripper: tuple[float, float]) -> tuple[Joint, ...]:
    # Rows: ROS name, wire name, offset, direct, then the SDK's angle-limits (motor frame).
    part = f'{side}_arm'
    return (
        Joint(f'{prefix}_shoulder_pitch', f'{part}.shoulder_pitch', *pitch),
        Joint(f'{prefix}_shoulder_roll', f'{part}.shoulder_roll', *roll),
        Joint(f'{prefix}_arm_yaw', f'{part}.arm_yaw', 0.0, False, -90.0, 90.0),
        Joint(f'{prefix}_elbow_pitch', f'{part}.elbow_pitch', 0.0, False, 0.0, 125.0),
        Joint(f'{prefix}_forearm_yaw', f'{part}.hand.forearm_yaw', 0.0, False, -100.0, 100.0),
        Joint(f'{prefix}_wrist_pitch', f'{part}.hand.wrist_pitch', 0.0, False, -45.0, 45.0),
        Joint(f'{prefix}_wrist_roll', f'{part}.hand.wrist_roll', 0.0, False, -45.0, 45.0),
        Joint(f'{prefix}_gripper', f'{part}.hand.gripper', 0.0, True, *gripper),
    )


DEFAULT_JOINTS: tuple[Joint, ...] = (
    *_arm('left', 'l', (90.0, True, -60.0, 180.0), (-90.0, False, -90.0, 100.0),
          (-20.0, 69.0)),
    *_arm('right', 'r', (90.0, False, -180.0, 60.0), (90.0, False, -100.0, 90.0),
          (-69.0, 20.0)),
    Joint('l_antenna', 'head.left_antenna', 0.0, True, -150.0, 150.0),
    Joint('r_antenna', 'head.right_antenna', 0.0, True, -150.0, 150.0),
    *(Joint(f'neck_disk_{level}', f'{DISK_PREFIX}{level}', 0.0, True,
            -DISK_LIMIT_DEG, DISK_LIMIT_DEG) for level in ('bottom', 'middle', 'top')),
)

# The fans, as the SDK names them: all three are attributes of the arm part, the wrist fan
# included (``reachy.left_arm.wrist_fan``; ``reachy/parts/arm.py``). No wire message: the
# SDK's websocket IO has placeholder fans, and the Unity simulator none.
FANS: tuple[str, ...] = tuple(
    f'{side}_arm.{fan}' for side in ('left', 'right')
    for fan in ('shoulder_fan', 'elbow_fan', 'wrist_fan'))
# Names an earlier bridge used for the wrist fans; still accepted for the same fan.
FAN_ALIASES: dict[str, str] = {f'{side}_arm.hand.wrist_fan': f'{side}_arm.wrist_fan'
                               for side in ('left', 'right')}


TABLE_FIELDS = ('name', 'offset_deg', 'direct', 'motor_min_deg', 'motor_max_deg')


def table_from_values(values: Mapping[str, Any], prefix: str = 'joints') -> tuple[Joint, ...]:
    """
    Return the table that flat parameter values describe, the defaults filling in the rest.

    Keys read ``<prefix>.<wire name>.<field>`` for the fields of :data:`TABLE_FIELDS`.
    Raises ValueError naming a row that is invalid, or a name that appears twice.
    """
    joints = []
    for default in DEFAULT_JOINTS:
        base = f'{prefix}.{default.wire_name}'
        fields = {field: values.get(f'{base}.{field}', getattr(default, field))
                  for field in TABLE_FIELDS}
        joints.append(Joint(wire_name=default.wire_name, **fields))
    return check_table(joints)


def check_table(joints: Iterable[Joint]) -> tuple[Joint, ...]:
    """Return the table as a tuple; ValueError if a ROS or wire name appears twice."""
    table = tuple(joints)
    for attribute in ('name', 'wire_name'):
        seen: set[str] = set()
        for joint in table:
            value = getattr(joint, attribute)
            if value in seen:
                raise ValueError(f'joint table: {attribute} {value!r} appears twice')
            seen.add(value)
    return table


def closing_limit_motor_deg(joint: Joint) -> float:
    """
    Return where a gripper is closed, in motor-frame degrees.

    The limit nearer zero is the closed end (left -20, right +20); the far end is open.
    """
    low, high = joint.motor_min_deg, joint.motor_max_deg
    return low if abs(low) <= abs(high) else high
