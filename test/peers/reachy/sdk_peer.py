"""
The real Reachy 2019 SDK as a peer, driven over stdin/stdout (run by the peer's Python 3.8).

Builds the whole robot of PyPI ``reachy-2019`` 1.4.0 (both arms with force grippers, the
head) on the SDK's own websocket IO (``reachy/io/ws.py``: the ``WsServer`` that
reachy_bridge replaces), listening on 127.0.0.1 at the port given, and then answers one JSON
request per stdin line with one JSON line on stdout:

* ``{"op": "goals", "goals": {wire name: joint degrees}}``: set them as a user of the SDK
  does (``motor.goal_position = ...``; a disk's raw ``target_rot_position``, the SDK having
  no joint frame for them);
* ``{"op": "state"}``: what the SDK reports: every motor's ``present_position`` (joint
  degrees), the disks' positions, both grippers' ``grip_force``, both cameras' frames
  (shape and SHA-256 of the decoded pixels);
* ``{"op": "fk", "side": "left", "joints": [8 joint degrees]}``: the SDK's own forward
  kinematics of that arm (``Arm.forward_kinematics``), a 4x4 matrix;
* ``{"op": "chain", "side": "left"}``: that arm's kinematic chain as the SDK holds it (the
  motor names, ``link-translation``, ``link-rotation``, joint bounds in radians);
* ``{"op": "quit"}``.

Errors are answered as ``{"error": "..."}``; the process stays up.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import sys
import time
from typing import Any, Dict

from reachy import parts, Reachy
from reachy.io import ws


def build(port: int) -> Reachy:
    """Return the SDK's Reachy on its websocket IO, once its server accepts connections."""
    # WsIO.shared_server creates the server only when none is there: this one listens on
    # loopback at our port instead of the SDK's 0.0.0.0:6171, and is otherwise the SDK's.
    ws.WsIO.ws = ws.WsServer(host='127.0.0.1', port=port)
    ws.WsIO.ws.run_in_background()
    reachy = Reachy(left_arm=parts.LeftArm(io='ws', hand='force_gripper'),
                    right_arm=parts.RightArm(io='ws', hand='force_gripper'),
                    head=parts.Head(io='ws'))
    deadline = time.monotonic() + 20.0
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1.0).close()
            return reachy
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def motors_by_name(reachy: Reachy) -> Dict[str, Any]:
    """Return every Dynamixel motor of the robot by its wire name."""
    found = {}
    for part in (reachy.left_arm, reachy.right_arm, reachy.head):
        for motor in part.motors:
            found[motor.name] = motor
    return found


def disks_by_name(reachy: Reachy) -> Dict[str, Any]:
    """Return the Orbita disks (the SDK's placeholders on the websocket IO) by name."""
    neck = reachy.head.neck
    return {disk.name: disk for disk in (neck.disk_bottom, neck.disk_middle, neck.disk_top)}


def state(reachy: Reachy) -> Dict[str, Any]:
    """Return what the SDK reports of the robot now."""
    cameras = {}
    for side in ('left', 'right'):
        ok, frame = getattr(reachy.head, side + '_camera').read()
        cameras[side] = {'shape': list(frame.shape), 'dtype': str(frame.dtype),
                         'sha256': hashlib.sha256(frame.tobytes()).hexdigest()}
    return {
        'present': {name: motor.present_position
                    for name, motor in motors_by_name(reachy).items()},
        'disks': {name: disk.rot_position for name, disk in disks_by_name(reachy).items()},
        'force': {side: getattr(reachy, side + '_arm').hand.grip_force
                  for side in ('left', 'right')},
        'cameras': cameras,
        'fans': sorted(name for side in ('left', 'right')
                       for name in getattr(reachy, side + '_arm').fans),
    }


def chain(arm: Any) -> Dict[str, Any]:
    """Return the arm's kinematic chain as the SDK built it."""
    configs = list(type(arm).dxl_motors.items())
    configs += list(type(arm.hand).dxl_motors.items())
    return {
        'motors': [name for name, _ in configs],
        'translations': [list(config['link-translation']) for _, config in configs],
        'rotations': [list(config['link-rotation']) for _, config in configs],
        'bounds': [list(bounds) for bounds in arm.kin_chain.bounds],
    }


def handle(reachy: Reachy, request: Dict[str, Any]) -> Dict[str, Any]:
    """Answer one request."""
    op = request.get('op')
    if op == 'goals':
        motors, disks = motors_by_name(reachy), disks_by_name(reachy)
        for name, value in request['goals'].items():
            if name in disks:
                disks[name].target_rot_position = value
            else:
                motors[name].goal_position = value
        return {'ok': True}
    if op == 'state':
        return state(reachy)
    if op == 'fk':
        arm = getattr(reachy, request['side'] + '_arm')
        return {'matrix': arm.forward_kinematics(request['joints']).tolist()}
    if op == 'chain':
        return chain(getattr(reachy, request['side'] + '_arm'))
    raise ValueError('unknown op {!r}'.format(op))


def main() -> int:
    """Serve requests until quit or the end of stdin."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--port', type=int, required=True)
    args = parser.parse_args()
    reachy = build(args.port)
    print(json.dumps({'listening': args.port}), flush=True)
    for line in sys.stdin:
        try:
            request = json.loads(line)
            if request.get('op') == 'quit':
                break
            answer = handle(reachy, request)
        except Exception as exc:  # noqa: B902 - reported to the test, which fails on it
            answer = {'error': '{}: {}'.format(type(exc).__name__, exc)}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
