"""
A real URDF parser and its forward kinematics, driven with JSON (run by the peer's Python).

Runs with the peer environment's Python (scripts/peers.sh: .ros/peers/urdf, from
requirements.txt here), never with the project's: it imports PyPI ``kinpy`` 0.6.1 and nothing
of robot_bridges. Every fact printed is what kinpy read from the text: its URDF parser
(``kinpy.urdf_parser_py.urdf.URDF``, a copy of ROS' urdf_parser_py) and its chain
(``kinpy.build_chain_from_urdf``).

Reads a JSON list of requests on stdin, one per URDF text (so that a test can batch them)::

    [{"urdf": "<robot ...>...</robot>",
      "fk": [{"positions": {joint name: radians}, "links": [link name, ...]}, ...]}, ...]

(``fk`` optional; a joint left out of ``positions`` is at 0) and prints a JSON list of
reports, one per request, in order::

    [{"root": "base_link",
      "links": [link names, in document order],
      "joints": [{"name", "type", "parent", "child", "lower", "upper"}, ...],
      "complaints": [what the parser reported while reading, e.g. an unknown tag],
      "fk": [{link name: 4x4 matrix (row-major lists)}, ...]}, ...]

``lower``/``upper`` are the joint's ``<limit>`` (radians), null without one. A text the
parser or the chain refuses, a position for a joint the chain does not move, or a link it
does not have is that request's error: its report is ``{"error": "..."}``, the others are
answered, and the exit status is 2.
"""

import json
import sys
from typing import Any, Dict, List

import kinpy
from kinpy.urdf_parser_py.urdf import URDF
from kinpy.urdf_parser_py.xml_reflection import core


def read(text: str) -> Dict[str, Any]:
    """Return what the URDF parser read from the text, and what it complained about."""
    complaints: List[str] = []
    # The parser's own hook for what it tolerates (unknown tags and attributes): by default
    # a line on stderr; collected here so that a test can see it.
    default, core.on_error = core.on_error, complaints.append
    try:
        robot = URDF.from_xml_string(text)
    finally:
        core.on_error = default
    joints = [{'name': joint.name, 'type': joint.type, 'parent': joint.parent,
               'child': joint.child,
               'lower': None if joint.limit is None else joint.limit.lower,
               'upper': None if joint.limit is None else joint.limit.upper}
              for joint in robot.joints]
    return {'root': robot.get_root(), 'links': [link.name for link in robot.links],
            'joints': joints, 'complaints': complaints}


def forward_kinematics(text: str, requests: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Return, per request, the named links' 4x4 poses in the root frame at its positions."""
    chain = kinpy.build_chain_from_urdf(text)
    moving = set(chain.get_joint_parameter_names())
    results = []
    for request in requests:
        positions = {name: float(value) for name, value in request['positions'].items()}
        unknown = sorted(set(positions) - moving)
        if unknown:
            raise ValueError(f'positions of joints the chain does not move: {unknown}')
        frames = chain.forward_kinematics(positions)
        missing = sorted(set(request['links']) - set(frames))
        if missing:
            raise ValueError(f'links the chain does not have: {missing}')
        results.append({link: frames[link].matrix().tolist() for link in request['links']})
    return results


def answer(request: Dict[str, Any]) -> Dict[str, Any]:
    """Return the report on one request, or its error."""
    try:
        report = read(request['urdf'])
        report['fk'] = forward_kinematics(request['urdf'], request.get('fk', []))
    except Exception as error:  # every refusal is the answer, with its reason
        return {'error': f'{type(error).__name__}: {error}'}
    return report


def main() -> int:
    """Answer the requests on stdin; return the exit status (2 if any was refused)."""
    reports = [answer(request) for request in json.load(sys.stdin)]
    print(json.dumps(reports))
    return 2 if any('error' in report for report in reports) else 0


if __name__ == '__main__':
    sys.exit(main())
