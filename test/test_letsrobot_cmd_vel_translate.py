"""LetsRobot cmd_vel: the mapping parameter, the deadman's decisions, the messages (pure)."""

from __future__ import annotations

from builtin_interfaces.msg import Time
import pytest
from robot_bridges.translate import letsrobot_cmd_vel as translate
from robot_bridges.translate.letsrobot_cmd_vel import (Deadman, DEFAULT_MAP, parse_map, STOP,
                                                       Velocity)

TABLE = parse_map(DEFAULT_MAP)
FORWARD, BACK, LEFT, RIGHT = (TABLE[c] for c in 'FBLR')


def deadman(timeout_s: float = 0.5, stop_on_key_up: bool = True) -> Deadman:
    state = Deadman(TABLE, timeout_s, stop_on_key_up)
    state.enable()
    return state


def test_the_default_map_follows_rep_103() -> None:
    assert FORWARD == Velocity(0.2, 0.0) and BACK == Velocity(-0.2, 0.0)
    assert LEFT.angular_z > 0 > RIGHT.angular_z  # counter-clockwise is positive
    assert LEFT.linear_x == RIGHT.linear_x == 0.0
    assert TABLE['stop'] == STOP and not STOP.moves and FORWARD.moves
    assert set(TABLE) == {'F', 'B', 'L', 'R', 'stop'}


def test_map_entries_parse_with_spaces_exponents_and_colons_in_commands() -> None:
    table = parse_map([' F : 0.5 : 0 ', 'turn:left:0:1e-1', 'X:-1:-2.5'])
    assert table == {'F': Velocity(0.5, 0.0), 'turn:left': Velocity(0.0, 0.1),
                     'X': Velocity(-1.0, -2.5)}
    assert parse_map([]) == {}


@pytest.mark.parametrize(('entry', 'why'), [
    ('F', 'not three fields'),
    ('F:0.2', 'not three fields'),
    (':0.2:0.0', 'the command is empty'),
    ('F:fast:0.0', "LINEAR_X 'fast' is not a number"),
    ('F:0.2:', "ANGULAR_Z '' is not a number"),
    ('F:nan:0.0', 'LINEAR_X must be finite'),
    ('F:0.0:-inf', 'ANGULAR_Z must be finite'),
])
def test_a_bad_entry_is_named_with_the_rule(entry: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_map(['B:-0.2:0.0', entry])
    text = str(info.value)
    assert text.startswith(f'cmd_vel_map[1] {entry!r}: {why}; expected ')
    assert 'COMMAND:LINEAR_X:ANGULAR_Z (m/s, rad/s)' in text


def test_a_command_mapped_twice_is_refused_and_long_entries_are_cut() -> None:
    with pytest.raises(ValueError, match=r"cmd_vel_map\[1\] 'F:1:0': command 'F' is mapped"):
        parse_map(['F:0.2:0', 'F:1:0'])
    with pytest.raises(ValueError) as info:
        parse_map(['x' * 10_000])
    assert len(str(info.value)) < 300


def test_down_and_commands_without_key_position_drive_and_arm_the_deadman() -> None:
    state = deadman()
    assert state.command('F', 'down', 10.0) == FORWARD
    assert (state.active, state.deadline) == ('F', 10.5)
    assert state.command('L', '', 10.2) == LEFT  # an older server: no key_position
    assert (state.active, state.deadline) == ('L', pytest.approx(10.7))


def test_the_deadman_sends_one_zero_at_the_deadline_and_then_nothing() -> None:
    state = deadman()
    state.command('F', 'down', 10.0)
    assert state.expire(10.499) is None
    assert state.command('F', 'down', 10.3) == FORWARD  # a repeat moves the deadline on
    assert state.expire(10.5) is None and state.deadline == pytest.approx(10.8)
    assert state.expire(10.8) == STOP
    assert (state.active, state.deadline, state.timeouts) == ('', None, 1)
    assert [state.expire(t) for t in (10.9, 11.0, 100.0)] == [None, None, None]
    assert state.timeouts == 1


def test_key_up_of_the_driving_command_stops_at_once_other_ups_change_nothing() -> None:
    state = deadman()
    state.command('F', 'down', 1.0)
    state.command('L', 'down', 1.1)  # L pressed while F is held
    assert state.command('F', 'up', 1.2) is None  # F released: L keeps driving
    assert state.active == 'L'
    assert state.command('L', 'up', 1.3) == STOP
    assert (state.active, state.deadline) == ('', None)
    assert state.command('L', 'up', 1.4) is None  # nothing moving: no second zero
    assert state.expire(10.0) is None and state.timeouts == 0


def test_without_stop_on_key_up_a_command_is_a_timed_move() -> None:
    state = deadman(stop_on_key_up=False)
    state.command('B', 'down', 1.0)
    assert state.command('B', 'up', 1.1) is None and state.active == 'B'
    assert state.expire(1.5) == STOP


def test_intermediate_refreshes_the_driving_command_but_never_starts_one() -> None:
    state = deadman()
    assert state.command('F', 'intermediate', 1.0) is None and state.active == ''
    state.command('F', 'down', 1.0)
    assert state.command('R', 'intermediate', 1.2) is None and state.active == 'F'
    assert state.command('F', 'intermediate', 1.4) == FORWARD
    assert state.deadline == pytest.approx(1.9)


def test_stop_publishes_a_zero_and_disarms_unmapped_commands_do_nothing() -> None:
    state = deadman()
    state.command('F', 'down', 1.0)
    assert state.command('LOUD', 'down', 1.1) is None and state.active == 'F'
    assert state.command('f', 'down', 1.1) is None  # matched exactly as sent
    assert state.command('stop', 'down', 1.2) == STOP
    assert (state.active, state.deadline) == ('', None)
    assert state.command('stop', '', 1.3) == STOP  # an explicit stop always goes out
    assert state.command('stop', 'up', 1.4) is None


def test_halt_and_disable_zero_only_a_motion_under_way() -> None:
    state = deadman()
    assert state.halt() is None
    state.command('R', 'down', 1.0)
    assert state.halt() == STOP and state.halt() is None
    state.command('R', 'down', 2.0)
    assert state.disable() == STOP
    assert state.disable() is None
    assert state.command('F', 'down', 2.1) is None  # disabled: nothing drives
    assert state.expire(100.0) is None
    state.enable()
    assert state.command('F', 'down', 3.0) == FORWARD


def test_a_new_deadman_is_disabled_and_the_timeout_must_be_positive() -> None:
    assert Deadman(TABLE, 0.5).command('F', 'down', 1.0) is None
    with pytest.raises(ValueError, match='must be positive'):
        Deadman(TABLE, 0.0)


def test_messages_carry_only_linear_x_and_angular_z() -> None:
    msg = translate.twist(Velocity(0.25, -1.5))
    assert (msg.linear.x, msg.linear.y, msg.linear.z) == (0.25, 0.0, 0.0)
    assert (msg.angular.x, msg.angular.y, msg.angular.z) == (0.0, 0.0, -1.5)
    stamp = Time(sec=7, nanosec=8)
    stamped = translate.twist_stamped(Velocity(0.1, 0.0), stamp, 'base_footprint')
    assert stamped.header.stamp == stamp and stamped.header.frame_id == 'base_footprint'
    assert stamped.twist.linear.x == 0.1 and stamped.twist.angular.z == 0.0
