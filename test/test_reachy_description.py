"""
Reachy's URDF: a real URDF parser reads it, it matches joint_states and the SDK's chain.

The parser is PyPI ``kinpy`` 0.6.1 (its ``urdf_parser_py`` and its forward kinematics), in
its own test-only environment (scripts/peers.sh: .ros/peers/urdf, from test/peers/urdf),
driven through ``test/peers/urdf/urdf_tool.py``: every URDF fact checked here is what that
parser read.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
import subprocess
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from peer_helpers import require_peer
import pytest
from reachy_helpers import ALL_NAMES, BY_NAME, dial, real_sdk, reply, SdkPeer, start_bridge
from robot_bridges.bridges.reachy_params import description_from_params_file
from robot_bridges.protocols.reachy_description import ARM_CHAIN, END_EFFECTOR, urdf
from robot_bridges.protocols.reachy_joints import DEFAULT_JOINTS
from ros_helpers import ProbeNode, Proc
from sensor_msgs.msg import JointState
from std_msgs.msg import String
import yaml

TOOL = Path(__file__).resolve().parent / 'peers' / 'urdf' / 'urdf_tool.py'
ARM_JOINTS = {side: [j for j in DEFAULT_JOINTS if j.part == f'{side}_arm']
              for side in ('left', 'right')}
# A few poses per arm, joint degrees in SDK order (the gripper last, without effect on the tip).
POSES = [
    [0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, -90, 0, 0, 0, 0],
    [-40, 15, 30, -70, 45, -20, 30, 10],
    [60, 90, -60, -120, -80, 40, -40, -15],
]
FK_CASES = [(side, pose) for side in ('left', 'right') for pose in POSES]

Report = dict[str, Any]
Reader = Callable[..., Report]


@pytest.fixture(scope='module')
def kinpy_urdf() -> Reader:
    """
    Return `read(text, fk=())`: what kinpy read from a URDF text (skips if the peer is absent).

    The report is urdf_tool.py's: root, links, joints (name, type, lower, upper), and the
    forward kinematics asked for in `fk` (``{'positions': {joint: rad}, 'links': [...]}``).
    The parser must read the text without a complaint (an unknown tag or attribute).
    """
    env = require_peer('urdf', 'bin/python')
    clean = {k: v for k, v in os.environ.items()
             if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}

    def read(text: str, fk: Sequence[dict[str, Any]] = ()) -> Report:
        result = subprocess.run([str(env / 'bin' / 'python'), '-I', str(TOOL)],
                                input=json.dumps([{'urdf': text, 'fk': list(fk)}]),
                                capture_output=True, text=True, timeout=60, env=clean)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        report: Report = json.loads(result.stdout)[0]
        assert report['complaints'] == [], report['complaints']
        return report
    return read


def fk_request(side: str, pose: list[float]) -> dict[str, Any]:
    """Return the tool's request for that arm's end effector at the pose (joint degrees)."""
    names = [j.name for j in ARM_JOINTS[side]]
    return {'positions': {name: math.radians(value) for name, value in zip(names, pose)},
            'links': [f'{side[0]}_end_effector']}


@pytest.fixture(scope='module')
def default_urdf(kinpy_urdf: Reader) -> Report:
    """Return kinpy's reading of the default URDF, with its FK at FK_CASES (in one call)."""
    return kinpy_urdf(urdf(DEFAULT_JOINTS), fk=[fk_request(*case) for case in FK_CASES])


@pytest.fixture(scope='module')
def sdk() -> Iterator[SdkPeer]:
    """Run the real SDK, for its own chain and forward kinematics (skips with a reason)."""
    with real_sdk() as peer:
        yield peer


def moving_joints(report: Report) -> list[dict[str, Any]]:
    """Return the URDF's non-fixed joints as the parser read them, in document order."""
    return [joint for joint in report['joints'] if joint['type'] != 'fixed']


def test_the_urdf_parses_and_its_joints_are_joint_states_names_and_bounds(
        default_urdf: Report) -> None:
    robot = default_urdf
    joints = moving_joints(robot)
    assert sorted(joint['name'] for joint in joints) == sorted(ALL_NAMES)
    for joint in joints:
        row = BY_NAME[joint['name']]
        assert joint['type'] == 'revolute'
        assert (joint['lower'], joint['upper']) == pytest.approx(
            (math.radians(row.min_deg), math.radians(row.max_deg)), abs=1e-12), joint['name']
    # Every link is reached from the base, and the eye links are the eye images' frames.
    links = set(robot['links'])
    assert {'base_link', 'left_eye', 'right_eye', 'l_end_effector', 'r_end_effector'} <= links
    assert robot['root'] == 'base_link'
    assert len(links) == len(robot['joints']) + 1


def test_present_parts_and_the_frame_prefix(kinpy_urdf: Reader) -> None:
    left_and_head = [j for j in DEFAULT_JOINTS if j.part in ('left_arm', 'head')]
    robot = kinpy_urdf(urdf(left_and_head, prefix='reachy_'))
    assert sorted(j['name'] for j in moving_joints(robot)) == sorted(
        j.name for j in left_and_head)
    links = set(robot['links'])
    assert all(name.startswith('reachy_') for name in links)
    assert 'reachy_left_eye' in links and 'reachy_r_end_effector' not in links
    assert robot['root'] == 'reachy_base_link'


def test_a_params_file_gives_the_urdf_of_its_table(kinpy_urdf: Reader, tmp_path: Path) -> None:
    params = tmp_path / 'reachy.yaml'
    params.write_text(yaml.safe_dump({'/**/reachy_bridge': {'ros__parameters': {
        'parts': ['right_arm'],
        'joints': {'right_arm': {'elbow_pitch': {'name': 'r_elbow', 'motor_max_deg': 100.0}}},
    }}}))
    joints = moving_joints(kinpy_urdf(description_from_params_file(str(params))))
    assert [j['name'] for j in joints] == [j.name.replace('r_elbow_pitch', 'r_elbow')
                                           for j in ARM_JOINTS['right']]
    elbow = joints[3]
    assert (elbow['lower'], elbow['upper']) == pytest.approx((math.radians(-100), 0.0))
    params.write_text(yaml.safe_dump({'reachy_bridge': {'ros__parameters': {'parts': ['x']}}}))
    with pytest.raises(ValueError, match=r"parts: unknown \['x'\]"):
        description_from_params_file(str(params))


def test_the_chain_is_the_sdks_own(sdk: SdkPeer) -> None:
    for side in ('left', 'right'):
        chain = sdk.ask('chain', side=side)
        assert chain['motors'] == [*ARM_CHAIN, 'gripper']
        expected = [list(t) for t, _ in ARM_CHAIN.values()] + [list(END_EFFECTOR)]
        if side == 'right':
            expected[0][1] = -expected[0][1]
        assert chain['translations'] == expected
        assert chain['rotations'] == [list(a) for _, a in ARM_CHAIN.values()] + [[0, 0, 0]]
        # The SDK's own joint bounds (radians, from its angle-limits) are the table's.
        np.testing.assert_allclose(
            chain['bounds'],
            [[math.radians(j.min_deg), math.radians(j.max_deg)] for j in ARM_JOINTS[side]],
            atol=1e-12)


@pytest.mark.parametrize('side', ['left', 'right'])
def test_forward_kinematics_of_the_urdf_equal_the_sdks(
        sdk: SdkPeer, default_urdf: Report, side: str) -> None:
    compared = 0
    for (case_side, pose), frames in zip(FK_CASES, default_urdf['fk'], strict=True):
        if case_side != side:
            continue
        sdk_matrix = np.array(sdk.ask('fk', side=side, joints=pose)['matrix'])
        matrix = np.array(frames[f'{side[0]}_end_effector'])
        np.testing.assert_allclose(matrix, sdk_matrix, atol=1e-9, err_msg=f'{side} {pose}')
        compared += 1
    assert compared == len(POSES)
    # Not trivially equal: the poses move the tip.
    assert not np.allclose(np.array(sdk.ask('fk', side=side, joints=POSES[2])['matrix']),
                           np.array(sdk.ask('fk', side=side, joints=POSES[0])['matrix']))


def test_the_bridge_publishes_the_urdf_latched_matching_its_joint_states(
        procs: Callable[..., Proc], ros: ProbeNode, kinpy_urdf: Reader) -> None:
    ns = '/ry_urdf'
    states = ros.subscribe(JointState, f'{ns}/joint_states')
    bridge, url = start_bridge(procs, ns, parts=['left_arm', 'head'], frame_id_prefix='ry_')
    bridge.wait_output('listening on', 30)
    late = ros.subscribe_latched(String, f'{ns}/robot_description')  # after it was sent
    description = late.wait_count(1, 15)[-1].data
    with dial(url) as client:
        client.recv(10)
        ros.wait_publishers(f'{ns}/joint_states')
        for _ in range(3):
            client.send(reply({}))
            client.recv(10)
    message = states.wait_count(1)[-1]
    joints = moving_joints(kinpy_urdf(description))
    assert sorted(j['name'] for j in joints) == sorted(message.name)
    assert 'ry_left_eye' in description and 'r_elbow_pitch' not in description
    off, _ = start_bridge(procs, '/ry_urdf_off', publish_description=False)
    off.wait_output('listening on', 30)
    silent = ros.subscribe_latched(String, '/ry_urdf_off/robot_description')
    with pytest.raises(AssertionError):
        silent.wait_count(1, 2)
    assert 'Traceback' not in bridge.output + off.output


def test_reachy_urdf_prints_the_installed_defaults_or_a_params_files(
        procs: Callable[..., Proc], tmp_path: Path, kinpy_urdf: Reader) -> None:
    printed = procs('reachy_urdf')
    assert printed.wait_exit(30) == 0
    assert printed.output.strip() == urdf(DEFAULT_JOINTS).strip()
    params = tmp_path / 'reachy.yaml'
    params.write_text(yaml.safe_dump({'/**': {'ros__parameters': {'parts': ['head']}}}))
    head = procs('reachy_urdf', '--params-file', str(params))
    assert head.wait_exit(30) == 0
    assert sorted(j['name'] for j in moving_joints(kinpy_urdf(head.output))) == sorted(
        j.name for j in DEFAULT_JOINTS if j.part == 'head')
    missing = procs('reachy_urdf', '--params-file', str(tmp_path / 'nothing.yaml'))
    assert missing.wait_exit(30) == 1 and 'No such file' in missing.output
