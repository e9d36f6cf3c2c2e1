"""
A URDF of Reachy 2019, generated from the SDK's kinematic chain and the bridge's joint table.

Facts, from PyPI ``reachy-2019`` 1.4.0: each arm is a chain of links, one per motor, each
``link-translation`` (metres, from the previous joint) then a rotation of the joint's angle
about ``link-rotation`` (``reachy/parts/arm.py`` LeftArm/RightArm.dxl_motors,
``reachy/parts/hand.py`` Left/RightForceGripper.dxl_motors, composed by
``reachy/parts/kinematic.py`` as ``T(translation) @ R(angle * axis)``). A URDF joint is the
same thing (origin, then a rotation about its axis), so each SDK link becomes one revolute
joint with that origin and axis. The gripper's SDK link has no rotation: it is the fixed
offset to the end effector (``<side>_end_effector``), and the URDF's ``l_gripper`` /
``r_gripper`` joint is a finger of ours about the hand's x axis. The names and the joint
bounds are the bridge's table (:mod:`robot_bridges.protocols.reachy_joints`), so the URDF
and ``joint_states`` always agree, renamed joints and changed limits included.

Ours, not the SDK's (it gives no geometry for them): the shapes (cylinders along each
segment, spheres at the joints), the head (a box on a neck above the shoulders), where the
antennas and eyes sit on it, and the Orbita neck drawn as three stacked disks turning about
the neck's axis. Orbita is a parallel mechanism: the head's orientation is a function of all
three disks (the ``orbita`` package's model), so here the head does not move with them.
The eye links are optical frames (REP-103: z forward, x right, y down), named as the eye
images' frame ids. Pure: no ROS, no I/O.
"""

from __future__ import annotations

import math
from typing import Sequence
from xml.etree import ElementTree

from robot_bridges.protocols.reachy_joints import Joint

Vector = tuple[float, float, float]

# Per arm motor (the wire name's last part): (link-translation, link-rotation) of the SDK.
ARM_CHAIN: dict[str, tuple[Vector, Vector]] = {
    'shoulder_pitch': ((0.0, 0.19, 0.0), (0.0, 1.0, 0.0)),  # the right arm's y is -0.19
    'shoulder_roll': ((0.0, 0.0, 0.0), (1.0, 0.0, 0.0)),
    'arm_yaw': ((0.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    'elbow_pitch': ((0.0, 0.0, -0.28), (0.0, 1.0, 0.0)),
    'forearm_yaw': ((0.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    'wrist_pitch': ((0.0, 0.0, -0.25), (0.0, 1.0, 0.0)),
    'wrist_roll': ((0.0, 0.0, -0.0325), (1.0, 0.0, 0.0)),
}
# The force gripper's link: a translation only (link-rotation [0, 0, 0]), to the tip.
END_EFFECTOR: Vector = (0.0, -0.01, -0.075)
GRIPPER_AXIS: Vector = (1.0, 0.0, 0.0)  # ours
# Ours: the head above the shoulders, its parts relative to it.
NECK: Vector = (0.0, 0.0, 0.12)
DISK_GAP = 0.012
HEAD_BOX: Vector = (0.09, 0.16, 0.1)
HEAD_CENTRE: Vector = (0.0, 0.0, 0.09)
ANTENNAS: dict[str, Vector] = {'left_antenna': (0.0, 0.05, 0.14),
                               'right_antenna': (0.0, -0.05, 0.14)}
EYES: dict[str, Vector] = {'left_eye': (0.045, 0.03, 0.1), 'right_eye': (0.045, -0.03, 0.1)}
# From a body frame (x forward, z up) to an optical one (z forward, x right, y down).
OPTICAL_RPY: Vector = (-math.pi / 2, 0.0, -math.pi / 2)
RADIUS = 0.03
EFFORT = 1.0  # placeholders: the SDK states neither
VELOCITY = math.pi
BASE = 'base_link'


def end_effector_link(side: str) -> str:
    """Return the end effector's link name of ``side`` ('left' or 'right'), unprefixed."""
    return f'{side[0]}_end_effector'


def urdf(joints: Sequence[Joint], prefix: str = '', name: str = 'reachy') -> str:
    """
    Return the URDF (XML text) of the robot whose joints these are (present parts only).

    ``prefix`` goes before every link name (the eye links then match the eye images'
    ``frame_id_prefix``). Raises ValueError if an arm or the head lacks a joint it needs.
    """
    robot = ElementTree.Element('robot', name=name)
    _material(robot)
    _link(robot, prefix + BASE, ('box', (0.12, 0.3, 0.2), (0.0, 0.0, -0.05), (0.0, 0.0, 0.0)))
    by_wire = {joint.wire_name: joint for joint in joints}
    for side in ('left', 'right'):
        if any(joint.part == f'{side}_arm' for joint in joints):
            _arm(robot, side, by_wire, prefix)
    if any(joint.part == 'head' for joint in joints):
        _head(robot, by_wire, prefix)
    ElementTree.indent(robot)
    return ElementTree.tostring(robot, encoding='unicode') + '\n'


def _need(by_wire: dict[str, Joint], wire_name: str) -> Joint:
    joint = by_wire.get(wire_name)
    if joint is None:
        raise ValueError(f'the URDF needs joint {wire_name!r}, which the table lacks')
    return joint


def _arm(robot: ElementTree.Element, side: str, by_wire: dict[str, Joint],
         prefix: str) -> None:
    part = f'{side}_arm'
    parent = prefix + BASE
    motors = list(ARM_CHAIN)
    for index, motor in enumerate(motors):
        wire = f'{part}.{motor}' if index < 4 else f'{part}.hand.{motor}'
        joint = _need(by_wire, wire)
        offset, axis = ARM_CHAIN[motor]
        if motor == 'shoulder_pitch' and side == 'right':
            offset = (offset[0], -offset[1], offset[2])
        following = ARM_CHAIN[motors[index + 1]][0] if index + 1 < len(motors) else (
            END_EFFECTOR)
        child = f'{prefix}{joint.name}_link'
        _link(robot, child, _segment(following))
        _revolute(robot, joint, parent, child, offset, axis)
        parent = child
    # The finger (ours), and the SDK's end effector: a fixed offset from the wrist roll.
    gripper = _need(by_wire, f'{part}.hand.gripper')
    finger = f'{prefix}{gripper.name}_link'
    _link(robot, finger, ('box', (0.01, 0.02, 0.07), (0.0, 0.0, -0.035), (0.0, 0.0, 0.0)))
    _revolute(robot, gripper, parent, finger, (0.0, 0.015, -0.03), GRIPPER_AXIS)
    tip = prefix + end_effector_link(side)
    _link(robot, tip, ('sphere', (0.01,), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)))
    _fixed(robot, f'{side[0]}_end_effector_joint', parent, tip, END_EFFECTOR)


def _head(robot: ElementTree.Element, by_wire: dict[str, Joint], prefix: str) -> None:
    neck = prefix + 'neck_link'
    _link(robot, neck, ('cylinder', (0.02, NECK[2]), (0.0, 0.0, -NECK[2] / 2),
                        (0.0, 0.0, 0.0)))
    _fixed(robot, 'neck_joint', prefix + BASE, neck, NECK)
    parent, height = neck, 0.0
    for level in ('bottom', 'middle', 'top'):
        disk = _need(by_wire, f'head.disk_{level}')
        child = f'{prefix}{disk.name}_link'
        # A thin disk with a mark on its rim, so that its turning shows.
        _link(robot, child, ('cylinder', (0.045, 0.008), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
              ('box', (0.012, 0.012, 0.01), (0.045, 0.0, 0.0), (0.0, 0.0, 0.0)))
        _revolute(robot, disk, parent, child, (0.0, 0.0, height), (0.0, 0.0, 1.0))
        parent, height = child, DISK_GAP
    head = prefix + 'head_link'
    _link(robot, head, ('box', HEAD_BOX, HEAD_CENTRE, (0.0, 0.0, 0.0)))
    _fixed(robot, 'head_joint', neck, head, (0.0, 0.0, 3 * DISK_GAP))
    for motor, position in ANTENNAS.items():
        antenna = _need(by_wire, f'head.{motor}')
        child = f'{prefix}{antenna.name}_link'
        _link(robot, child, ('cylinder', (0.005, 0.08), (0.0, 0.0, 0.04), (0.0, 0.0, 0.0)))
        _revolute(robot, antenna, head, child, position, (1.0, 0.0, 0.0))
    for eye, position in EYES.items():
        child = prefix + eye
        _link(robot, child, ('cylinder', (0.012, 0.01), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)))
        _fixed(robot, f'{eye}_joint', head, child, position, OPTICAL_RPY)


def _segment(to: Vector) -> tuple[str, tuple[float, ...], Vector, Vector]:
    """Return a cylinder from the link's origin to ``to``, or a sphere when there is none."""
    length = math.dist((0.0, 0.0, 0.0), to)
    if length < 1e-9:
        return 'sphere', (RADIUS * 1.15,), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    x, y, z = (value / length for value in to)
    # The rotation taking a cylinder's z axis onto the segment: pitch, then yaw.
    rpy = (0.0, math.acos(max(-1.0, min(1.0, z))), math.atan2(y, x))
    middle = (to[0] / 2, to[1] / 2, to[2] / 2)
    return 'cylinder', (RADIUS, length), middle, rpy


def _material(robot: ElementTree.Element) -> None:
    material = ElementTree.SubElement(robot, 'material', name='reachy_white')
    ElementTree.SubElement(material, 'color', rgba='0.9 0.9 0.9 1')


def _link(robot: ElementTree.Element, name: str,
          *shapes: tuple[str, tuple[float, ...], Vector, Vector]) -> None:
    link = ElementTree.SubElement(robot, 'link', name=name)
    for kind, size, xyz, rpy in shapes:
        visual = ElementTree.SubElement(link, 'visual')
        ElementTree.SubElement(visual, 'origin', xyz=_text(xyz), rpy=_text(rpy))
        geometry = ElementTree.SubElement(visual, 'geometry')
        if kind == 'box':
            ElementTree.SubElement(geometry, 'box', size=_text(size))
        elif kind == 'sphere':
            ElementTree.SubElement(geometry, 'sphere', radius=_text(size))
        else:
            ElementTree.SubElement(geometry, 'cylinder', radius=_text(size[:1]),
                                   length=_text(size[1:]))
        ElementTree.SubElement(visual, 'material', name='reachy_white')


def _revolute(robot: ElementTree.Element, joint: Joint, parent: str, child: str,
              xyz: Vector, axis: Vector) -> None:
    element = _joint(robot, joint.name, 'revolute', parent, child, xyz)
    ElementTree.SubElement(element, 'axis', xyz=_text(axis))
    ElementTree.SubElement(element, 'limit', lower=_text((math.radians(joint.min_deg),)),
                           upper=_text((math.radians(joint.max_deg),)),
                           effort=_text((EFFORT,)), velocity=_text((VELOCITY,)))


def _fixed(robot: ElementTree.Element, name: str, parent: str, child: str, xyz: Vector,
           rpy: Vector = (0.0, 0.0, 0.0)) -> None:
    _joint(robot, name, 'fixed', parent, child, xyz, rpy)


def _joint(robot: ElementTree.Element, name: str, kind: str, parent: str, child: str,
           xyz: Vector, rpy: Vector = (0.0, 0.0, 0.0)) -> ElementTree.Element:
    element = ElementTree.SubElement(robot, 'joint', name=name, type=kind)
    ElementTree.SubElement(element, 'parent', link=parent)
    ElementTree.SubElement(element, 'child', link=child)
    ElementTree.SubElement(element, 'origin', xyz=_text(xyz), rpy=_text(rpy))
    return element


def _text(values: Sequence[float]) -> str:
    return ' '.join(repr(float(value)) for value in values)
