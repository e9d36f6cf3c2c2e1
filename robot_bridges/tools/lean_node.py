"""
Node options for the main job's own nodes: no services that nobody calls.

Every rclpy node serves its parameters (six services) and its type descriptions (one) by
default, and an rclpy executor rebuilds its wait set, with all of them, on every wake-up:
the main job's five nodes would add 35 entities to each. Its drivers and printer have no
parameters worth setting at run time.
"""

from __future__ import annotations

from typing import Any

from rclpy.parameter import Parameter

LEAN: dict[str, Any] = {
    'start_parameter_services': False,
    'parameter_overrides': [Parameter('start_type_description_service', value=False)],
}
