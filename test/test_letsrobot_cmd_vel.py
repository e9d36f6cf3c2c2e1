"""letsrobot_bridge's cmd_vel end to end: simulator and bridge processes, rclpy probe here."""

from __future__ import annotations

import time
from typing import Any, Callable

from geometry_msgs.msg import Twist, TwistStamped
from letsrobot_helpers import bridge_params, OWNER, ROBOT_ID, SimControl, start_sim
from lifecycle_msgs.msg import Transition
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy
from robot_bridges.msg import LetsRobotCommand
from ros_helpers import Collector, Diagnostics, ProbeNode, Proc, steady, wait_for
from std_msgs.msg import Bool

NODE = 'letsrobot_bridge'
# Generous: the machine is shared and loaded; the lower bounds are exact (causality).
LATE_S = 5.0


def command(user: str, key: str, position: str = 'down') -> dict[str, Any]:
    return {'robot_id': ROBOT_ID, 'command': key, 'user': user, 'key_position': position}


def chat(name: str, text: str) -> dict[str, Any]:
    return {'name': name, 'message': f'[{name}] {text}', 'robot_id': ROBOT_ID, 'room': 'r',
            '_id': f'id-{time.monotonic_ns()}'}


def velocity(msg: Any) -> tuple[float, float]:
    twist = msg.twist if isinstance(msg, TwistStamped) else msg
    return twist.linear.x, twist.angular.z


def identified(sim: SimControl, robots: int) -> None:
    """Wait until ``robots`` bridges are identified on control, chat and app."""
    wait_for(lambda: all(sim.state()['sockets'][name]['identified'] >= robots
                         for name in ('control', 'chat', 'app')), 20, f'{robots} identified')


class Bridge:
    """A bridge with cmd_vel on, and the probe's collectors of command and cmd_vel."""

    def __init__(self, procs: Callable[..., Proc], ros: ProbeNode, ns: str,
                 sim_params: dict[str, str], msg_type: Any = Twist, **params: Any) -> None:
        self.fqn = f'{ns}/{NODE}'
        self.topic = f'{ns}/cmd_vel'
        self.cmd_vel: Collector[Any] = ros.subscribe(msg_type, self.topic)
        self.commands: Collector[LetsRobotCommand] = ros.subscribe(LetsRobotCommand,
                                                                   f'{ns}/command')
        self.connected: Collector[Bool] = ros.subscribe_latched(Bool, f'{ns}/connected')
        self.diagnostics = Diagnostics(ros)
        self.proc = procs(NODE, namespace=ns, params=bridge_params(
            sim_params, cmd_vel_enabled=True, **params))
        ros.wait_publishers(self.topic)
        ros.wait_publishers(f'{ns}/command')

    def values(self, predicate: Callable[[dict[str, str]], bool]) -> dict[str, str]:
        return self.diagnostics.wait(self.fqn, predicate, 20.0)

    def wait_connected(self) -> None:
        wait_for(lambda: self.connected.messages and self.connected.last.data, 20.0,
                 'connected == true')

    def drive(self, sim: SimControl, payload: dict[str, Any]) -> tuple[float, Any]:
        """Emit a command; return when it was sent and the cmd_vel message it caused."""
        count = len(self.cmd_vel)
        sent = time.monotonic()
        sim.emit('control', 'command_to_robot', payload)
        self.cmd_vel.wait_count(count + 1, 15)
        return sent, self.cmd_vel.messages[count]

    def quiet(self, sim: SimControl, payload: dict[str, Any]) -> None:
        """Emit a command that must not change cmd_vel; prove the bridge has taken it."""
        commands, count = len(self.commands), len(self.cmd_vel)
        sim.emit('control', 'command_to_robot', payload)
        wait_for(lambda: len(self.commands) > commands, 15, 'the command published')
        self.wait_no_more(count)

    def wait_no_more(self, count: int, for_s: float = 0.3) -> None:
        wait_for(steady(lambda: len(self.cmd_vel), for_s), 15, 'cmd_vel quiet')
        assert len(self.cmd_vel) == count, [velocity(m) for m in self.cmd_vel.messages[count:]]


def test_mapping_key_up_and_exclusive_control(procs: Callable[..., Proc],
                                              ros: ProbeNode) -> None:
    _, sim, sim_params = start_sim(procs)
    # A deadman far away: however slow the machine, every zero here comes from a command.
    bridge = Bridge(procs, ros, '/lr_cmdvel', sim_params, cmd_vel_timeout_s=60.0,
                    cmd_vel_map="['F:0.3:0.0', 'B:-0.3:0.0', 'L:0.0:0.8', 'R:0.0:-0.8', "
                                "'stop:0:0', 'spin:0.1:2.5']")  # as typed: YAML wants quotes
    info = ros.node.get_publishers_info_by_topic(bridge.topic)
    assert len(info) == 1 and info[0].topic_type == 'geometry_msgs/msg/Twist'
    qos = info[0].qos_profile
    assert (qos.reliability, qos.durability) == (ReliabilityPolicy.RELIABLE,
                                                 DurabilityPolicy.VOLATILE)
    sim.wait_identified()
    bridge.wait_connected()

    # The mapping; key up of the driving command stops at once, another key's up does not.
    assert velocity(bridge.drive(sim, command('alice', 'F'))[1]) == (0.3, 0.0)
    assert velocity(bridge.drive(sim, command('alice', 'L', ''))[1]) == (0.0, 0.8)
    bridge.quiet(sim, command('alice', 'F', 'up'))
    assert velocity(bridge.drive(sim, command('alice', 'L', 'up'))[1]) == (0.0, 0.0)
    assert velocity(bridge.drive(sim, command('alice', 'spin'))[1]) == (0.1, 2.5)
    assert velocity(bridge.drive(sim, command('alice', 'stop'))[1]) == (0.0, 0.0)
    bridge.quiet(sim, command('alice', 'LOUD'))  # a custom button: command only
    bridge.quiet(sim, command('alice', 'R', 'intermediate'))  # never starts a motion
    values = bridge.values(lambda v: v['cmd_vel_published'] == str(len(bridge.cmd_vel)))
    assert values['cmd_vel'] == 'stopped' and values['cmd_vel_deadman_stops'] == '0'

    # Exclusive control: someone else's drive command reaches neither topic.
    sim.emit('chat', 'chat_message_with_name', chat(OWNER, '.exclusive bob'))
    bridge.values(lambda v: v['exclusive_user'] == 'bob')
    count = len(bridge.cmd_vel)
    sim.emit('control', 'command_to_robot', command('alice', 'F'))
    bridge.values(lambda v: v['excluded'] == '1')
    bridge.wait_no_more(count)
    assert velocity(bridge.drive(sim, command('bob', 'R'))[1]) == (0.0, -0.8)
    assert velocity(bridge.drive(sim, command(OWNER, 'stop'))[1]) == (0.0, 0.0)
    assert bridge.proc.returncode is None and 'Traceback' not in bridge.proc.output


def test_deadman_one_zero_after_the_last_drive_command(procs: Callable[..., Proc],
                                                       ros: ProbeNode) -> None:
    timeout = 2.0
    _, sim, sim_params = start_sim(procs)
    bridge = Bridge(procs, ros, '/lr_deadman', sim_params, cmd_vel_timeout_s=timeout)
    sim.wait_identified()
    bridge.wait_connected()

    def next_zero(after: int, what: str) -> float:
        zero_at = wait_for(lambda: len(bridge.cmd_vel) > after and bridge.cmd_vel.times[after],
                           timeout + LATE_S, what)
        assert velocity(bridge.cmd_vel.messages[after]) == (0.0, 0.0)
        return zero_at

    # One zero, at least the timeout after the drive command (causality: exact lower bound).
    sent, moving = bridge.drive(sim, command('alice', 'B'))
    assert velocity(moving) == (-0.2, 0.0)  # the default map
    zero_at = next_zero(len(bridge.cmd_vel), 'the deadman zero')
    assert timeout <= zero_at - sent <= timeout + LATE_S
    # A repeat moves the deadline on: no zero at the first command's deadline, one the
    # timeout after the repeat. A repeat the loaded machine delivered after the first
    # deadline proves nothing (that zero is right): try again, a bounded number of times.
    stops = 1
    for _ in range(3):
        bridge.drive(sim, command('alice', 'F'))
        time.sleep(0.4 * timeout)  # the first command's deadline falls before the repeat's
        index = len(bridge.cmd_vel)
        repeat, repeated = bridge.drive(sim, command('alice', 'F'))
        if velocity(repeated) == (0.2, 0.0):
            break
        # Late: the first deadline's zero came first, then the repeat's F, then its zero.
        late = bridge.cmd_vel.wait_count(index + 3, timeout + LATE_S)[index + 1:]
        assert [velocity(m) for m in late] == [(0.2, 0.0), (0.0, 0.0)]
        stops += 2
    else:
        raise AssertionError('three repeats in a row came after the first deadline')
    zero_at = next_zero(len(bridge.cmd_vel), 'the deadman zero after the repeat')
    stops += 1
    assert zero_at - repeat >= timeout
    bridge.wait_no_more(len(bridge.cmd_vel), for_s=timeout + 0.3)  # one zero, not a stream
    values = bridge.values(lambda v: v['cmd_vel_deadman_stops'] == str(stops))
    assert values['cmd_vel'] == 'stopped'
    assert values['cmd_vel_published'] == str(len(bridge.cmd_vel))
    assert bridge.proc.returncode is None and 'Traceback' not in bridge.proc.output


def test_zero_on_disconnect_deactivate_and_shutdown_stamped_and_off_by_default(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    _, sim, sim_params = start_sim(procs)
    # A deadman far away: every zero here comes from the link or the lifecycle.
    bridge = Bridge(procs, ros, '/lr_cmdvel_zero', sim_params, msg_type=TwistStamped,
                    cmd_vel_timeout_s=60.0, cmd_vel_stamped=True,
                    cmd_vel_frame_id='base_footprint')
    plain = procs(NODE, namespace='/lr_cmdvel_off', params=bridge_params(sim_params))
    plain_diagnostics = Diagnostics(ros)
    identified(sim, 2)
    bridge.wait_connected()

    _, moving = bridge.drive(sim, command('alice', 'F'))
    assert velocity(moving) == (0.2, 0.0)  # the default map
    assert moving.header.frame_id == 'base_footprint' and moving.header.stamp.sec > 0
    dropped = time.monotonic()
    assert sim.drop('control') == 2
    zero = bridge.cmd_vel.wait_count(2, LATE_S)[1]
    assert velocity(zero) == (0.0, 0.0)
    assert bridge.cmd_vel.times[1] - dropped < LATE_S  # not the 60 s deadman
    # The control sockets come back by themselves: driving works again, then deactivate.
    identified(sim, 2)
    bridge.wait_connected()
    assert velocity(bridge.drive(sim, command('alice', 'L'))[1]) == (0.0, 1.0)
    assert ros.lifecycle(bridge.fqn, Transition.TRANSITION_DEACTIVATE)
    assert velocity(bridge.cmd_vel.wait_count(4)[3]) == (0.0, 0.0)
    wait_for(lambda: not bridge.connected.last.data, 20, 'connected == false')
    bridge.wait_no_more(4)
    # Inactive, then active again: nothing drove meanwhile, driving resumes.
    assert ros.lifecycle(bridge.fqn, Transition.TRANSITION_ACTIVATE)
    identified(sim, 2)
    bridge.wait_connected()
    assert velocity(bridge.drive(sim, command('alice', 'B'))[1]) == (-0.2, 0.0)
    values = bridge.values(lambda v: v['cmd_vel'] == 'driving B')
    assert values['cmd_vel_deadman_stops'] == '0'
    # The lifecycle shutdown transition, from active, stops the motion too.
    assert ros.lifecycle(bridge.fqn, Transition.TRANSITION_ACTIVE_SHUTDOWN)
    assert velocity(bridge.cmd_vel.wait_count(6)[5]) == (0.0, 0.0)

    # cmd_vel_enabled defaults to false: that bridge took the commands, has no cmd_vel.
    assert ros.node.count_publishers('/lr_cmdvel_off/cmd_vel') == 0
    values = plain_diagnostics.wait(f'/lr_cmdvel_off/{NODE}',
                                    lambda v: int(v['commands']) >= 3, 20.0)
    assert values['cmd_vel'] == 'disabled'
    assert plain.returncode is None and bridge.proc.returncode is None


def test_a_bad_cmd_vel_map_fails_configure_clearly(procs: Callable[..., Proc]) -> None:
    bad = procs(NODE, namespace='/lr_cmdvel_cfg',
                params={'robot_id': ROBOT_ID, 'cmd_vel_map': "['F:0.2:0.0', 'B:slow:0.0']"})
    assert bad.wait_exit(30) == 1
    assert "cmd_vel_map[1] 'B:slow:0.0': LINEAR_X 'slow' is not a number" in bad.output
    assert 'Traceback' not in bad.output
