"""
The Reachy joint table as parameters: ``joints.<wire name>.<field>`` for every motor.

Fields: ``name`` (the ROS joint name), ``offset_deg``, ``direct`` (false: indirect),
``motor_min_deg``, ``motor_max_deg`` (the motor-frame limits, the SDK's ``angle-limits``; the
joint-frame bounds follow from them and the offset and orientation); defaults from
PROTOCOLS.md §4. In a params file they nest, e.g.
``joints: {left_arm: {hand: {gripper: {motor_max_deg: 60.0}}}}``. The wire names themselves
are fixed: they are the Unity simulator's motors.
"""

from __future__ import annotations

from rclpy.node import Node
from robot_bridges.node import params
from robot_bridges.protocols.reachy_joints import check_table, DEFAULT_JOINTS, Joint

PREFIX = 'joints'


def declare_joint_table(node: Node) -> None:
    """Declare the five parameters of every motor of the default table."""
    for joint in DEFAULT_JOINTS:
        base = f'{PREFIX}.{joint.wire_name}'
        params.declare(node, f'{base}.name', joint.name, f'ROS joint name of {joint.wire_name}.')
        params.declare(node, f'{base}.offset_deg', joint.offset_deg,
                       'motor = (joint + offset) * (+1 direct, -1 indirect), degrees.',
                       min_value=-360.0, max_value=360.0)
        params.declare(node, f'{base}.direct', joint.direct,
                       'True: the motor turns as the joint; false: opposite (indirect).')
        params.declare(node, f'{base}.motor_min_deg', joint.motor_min_deg,
                       "Lower motor-frame limit (the SDK's angle-limits), degrees.",
                       min_value=-360.0, max_value=360.0)
        params.declare(node, f'{base}.motor_max_deg', joint.motor_max_deg,
                       "Upper motor-frame limit (the SDK's angle-limits), degrees.",
                       min_value=-360.0, max_value=360.0)


def read_joint_table(node: Node) -> tuple[Joint, ...]:
    """Return the table the parameters describe; ValueError names a row that is invalid."""
    joints = []
    for default in DEFAULT_JOINTS:
        base = f'{PREFIX}.{default.wire_name}'
        joints.append(Joint(
            name=params.get(node, f'{base}.name'),
            wire_name=default.wire_name,
            offset_deg=params.get(node, f'{base}.offset_deg'),
            direct=params.get(node, f'{base}.direct'),
            motor_min_deg=params.get(node, f'{base}.motor_min_deg'),
            motor_max_deg=params.get(node, f'{base}.motor_max_deg')))
    return check_table(joints)
