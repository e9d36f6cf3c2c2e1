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

from typing import Any

from rclpy.node import Node
from robot_bridges.node import params
from robot_bridges.protocols.reachy_description import urdf
from robot_bridges.protocols.reachy_joints import (DEFAULT_JOINTS, Joint, PARTS, TABLE_FIELDS,
                                                   table_from_values)
import yaml

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
    return table_from_values({
        f'{PREFIX}.{joint.wire_name}.{field}': params.get(
            node, f'{PREFIX}.{joint.wire_name}.{field}')
        for joint in DEFAULT_JOINTS for field in TABLE_FIELDS}, PREFIX)


def params_file_values(path: str, node_name: str = 'reachy_bridge') -> dict[str, Any]:
    """
    Return the flat parameters a params file gives ``node_name`` (``a.b.c`` keys).

    Sections apply as ROS applies them: ``/**``, then ``/**/<node>`` or any
    ``.../<node>``, later ones winning. Raises OSError or yaml.YAMLError for a file that
    cannot be read.
    """
    with open(path, encoding='utf-8') as stream:
        document = yaml.safe_load(stream) or {}
    values: dict[str, Any] = {}
    for section, content in document.items():
        name = str(section).rstrip('/').rpartition('/')[2]
        if name in ('**', node_name) and isinstance(content, dict):
            _flatten(content.get('ros__parameters') or {}, '', values)
    return values


def _flatten(tree: dict[str, Any], prefix: str, into: dict[str, Any]) -> None:
    for key, value in tree.items():
        if isinstance(value, dict):
            _flatten(value, f'{prefix}{key}.', into)
        else:
            into[f'{prefix}{key}'] = value


def description_from_params_file(path: str, node_name: str = 'reachy_bridge') -> str:
    """
    Return the URDF the bridge publishes when started with this params file.

    For a launch that hands it to robot_state_publisher. Raises OSError or yaml.YAMLError
    for a file that cannot be read, ValueError for an invalid table or parts list.
    """
    values = params_file_values(path, node_name)
    parts = list(values.get('parts', PARTS))
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f'parts: unknown {unknown}; known parts are {list(PARTS)}')
    joints = [joint for joint in table_from_values(values, PREFIX) if joint.part in parts]
    return urdf(joints, str(values.get('frame_id_prefix', '')))
