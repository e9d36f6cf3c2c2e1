"""
Property tests of the LetsRobot protocol module (hypothesis; profile from conftest.py).

Every parser, for any decoded JSON value (arbitrary, or a golden payload mutated), gives a
typed value whose strings a ROS message can carry, or a RemoteProtocolError. Events built
as the simulator builds them survive the socket.io wire (JSON) unchanged, and so do the
payloads and paths the robot emits; builders raise only LocalProtocolError.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable
from urllib.parse import unquote

from fuzz_strategies import (ANY_TEXT, decodes_or_raises, HUGE_INTS, json_values,
                             mutated_value, ROS_TEXT, ros_text)
from hypothesis import given, strategies as st
import pytest
from robot_bridges.protocols import letsrobot
from robot_bridges.protocols.letsrobot import (ChatCommand, ChatMessage, Command,
                                               ExclusiveControl, ExclusiveMods, HostPort,
                                               LocalProtocolError,
                                               MessageRemoved, RemoteProtocolError, Settings)
from robot_bridges.sims import letsrobot_audience

pytestmark = pytest.mark.fuzz

KEYS = st.sampled_from(['robot_id', 'command', 'user', 'message', 'status', 'username',
                        'message_id', 'host', 'port', 'key_position', 'anonymous', '_id',
                        'name', 'room', 'non_global', 'username_color', 'owner', 'xres',
                        'yres', 'mpeg_stream_port', 'audio_stream_port'])
PAYLOADS = json_values(KEYS)
# Deeper than any JSON encoder or walker recurses, and an int past the digit limit.
DEEP: Any = 1
for _ in range(5000):
    DEEP = [DEEP]
UNWRITABLE = [DEEP, {'deep': DEEP}, {'xres': 10**5000}, {'x': [10**5000]}]


def _port(named: str) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        return letsrobot.parse_port(value, named)
    parse.__name__ = f'parse_port_{named}'
    return parse


# Every parser, the type it returns and a golden value of what the site sends.
PARSERS: list[tuple[Callable[[Any], Any], type | tuple[type, ...], Any]] = [
    (letsrobot.parse_command, Command,
     {'robot_id': '12345', 'command': 'F', 'user': 'alice', 'key_position': 'down',
      'anonymous': False}),
    (letsrobot.parse_command, Command,
     {'robot_id': 12345, 'command': 'L', 'user': {'username': 'bob', 'anonymous': True}}),
    (letsrobot.parse_chat, ChatMessage,
     {'name': 'alice', 'message': '[alice] hello ] robot ', 'robot_id': '12345',
      'room': 'owner_room', 'non_global': True, 'username_color': '#F16B74',
      'anonymous': False, '_id': '59ec0a1b'}),
    (letsrobot.parse_exclusive, ExclusiveControl,
     {'status': 'start', 'robot_id': '1', 'user': {'username': 'bob'}}),
    (letsrobot.parse_exclusive, ExclusiveControl, {'status': 'start', 'username': 'bob'}),
    (letsrobot.parse_exclusive, ExclusiveControl, {'status': 'end', 'robot_id': '1'}),
    (letsrobot.parse_removed, MessageRemoved, {'message_id': '59ec'}),
    (letsrobot.parse_host_port, HostPort, {'host': 'letsrobot.tv', 'port': 8023}),
    (letsrobot.parse_host, str, {'host': 'relay.example'}),
    (letsrobot.parse_owner, str, {'owner': 'carol'}),
    (letsrobot.parse_settings, Settings, {'xres': 320, 'yres': '240', 'mic_enabled': True}),
    (_port('mpeg_stream_port'), int, {'mpeg_stream_port': 11225}),
    (_port('audio_stream_port'), int, {'port': '11226'}),
]
PARSER_IDS = [f'{parse.__name__}-{index}' for index, (parse, _, _) in enumerate(PARSERS)]


def _checked(result: Any, kind: type | tuple[type, ...]) -> None:
    """Assert that a parser's outcome is its type (strings ROS-safe) or a remote error."""
    if isinstance(result, RemoteProtocolError):
        return
    assert isinstance(result, kind), result
    values = dataclasses.astuple(result) if dataclasses.is_dataclass(result) else (result,)
    for value in values:
        if type(value) is str:
            assert ros_text(value) and len(value) <= letsrobot.MAX_SETTINGS_CHARS
    if isinstance(result, Settings):
        json.loads(result.text)  # strict JSON
    if isinstance(result, int):
        assert 1 <= result <= 65535


@pytest.mark.parametrize('parse, kind, golden', PARSERS, ids=PARSER_IDS)
@given(value=PAYLOADS | st.sampled_from(UNWRITABLE))
def test_any_value_parses_or_raises_the_remote_error(parse: Callable[[Any], Any], kind: type,
                                                     golden: Any, value: Any) -> None:
    _checked(decodes_or_raises(parse, value, error=RemoteProtocolError), kind)


@pytest.mark.parametrize('parse, kind, golden', PARSERS, ids=PARSER_IDS)
@given(data=st.data())
def test_mutated_golden_payloads_parse_or_raise_the_remote_error(
        parse: Callable[[Any], Any], kind: type, golden: Any, data: st.DataObject) -> None:
    assert isinstance(parse(golden), kind)  # the golden payload itself is valid
    value = data.draw(mutated_value(golden))
    _checked(decodes_or_raises(parse, value, error=RemoteProtocolError), kind)


def _wire(payload: Any) -> Any:
    """Send a payload as socket.io does: JSON text, decoded by the receiver."""
    return json.loads(json.dumps(payload))


NAMES = ROS_TEXT.filter(lambda s: 0 < len(s) <= letsrobot.MAX_NAME_CHARS)


@given(robot_id=NAMES | st.integers(0, 2**64).map(str), user=NAMES,
       key=NAMES.filter(lambda s: len(s) <= letsrobot.MAX_COMMAND_CHARS),
       position=st.sampled_from(letsrobot.KEY_POSITIONS), nested=st.booleans())
def test_commands_built_as_the_simulator_does_round_trip(robot_id: str, user: str, key: str,
                                                         position: str, nested: bool) -> None:
    payload = letsrobot_audience.command(robot_id, user, key, position, nested)
    if robot_id.isascii() and robot_id.isdigit() and str(int(robot_id)) == robot_id:
        payload['robot_id'] = int(robot_id)  # older servers sent numbers
    assert letsrobot.parse_command(_wire(payload)) == Command(robot_id, key, user, position,
                                                              False)


@given(robot_id=NAMES, name=NAMES.filter(lambda s: ']' not in s), text=ROS_TEXT,
       message_id=NAMES)
def test_chat_built_as_the_simulator_does_round_trips(robot_id: str, name: str, text: str,
                                                      message_id: str) -> None:
    chat = letsrobot.parse_chat(_wire(letsrobot_audience.chat(robot_id, name, text,
                                                              message_id)))
    assert (chat.message_id, chat.name, chat.robot_id, chat.text) == (
        message_id, name, robot_id, text.strip())
    assert chat.is_command == text.strip().startswith('.')


@given(user=NAMES, robot_id=NAMES, shape=st.sampled_from(['user', 'nested', 'username']))
def test_exclusive_control_round_trips(user: str, robot_id: str, shape: str) -> None:
    named = {'user': user, 'nested': {'username': user}, 'username': user}[shape]
    start = {'status': 'start', 'robot_id': robot_id,
             'user' if shape != 'username' else 'username': named}
    assert letsrobot.parse_exclusive(_wire(start)) == ExclusiveControl(True, user, robot_id)
    end = {'status': 'end', 'robot_id': robot_id}
    assert letsrobot.parse_exclusive(_wire(end)) == ExclusiveControl(False, '', robot_id)
    assert letsrobot.parse_removed(_wire({'message_id': user})) == MessageRemoved(user)


@given(host=NAMES.filter(lambda s: not any(c in s for c in '/?#@ \t\r\n')),
       port=st.integers(1, 65535), quoted=st.booleans())
def test_discovery_answers_round_trip(host: str, port: int, quoted: bool) -> None:
    wire_port = str(port) if quoted else port
    assert letsrobot.parse_host_port(_wire({'host': host, 'port': wire_port})) == HostPort(
        host, port)
    assert letsrobot.parse_host(_wire({'host': host})) == host
    for named in ('mpeg_stream_port', 'audio_stream_port'):
        assert letsrobot.parse_port(_wire({named: wire_port}), named) == port
    assert letsrobot.parse_owner(_wire({'owner': host})) == host


FINITE_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(HUGE_INTS) | ANY_TEXT |
    st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children,
                                                                      max_size=4),
    max_leaves=20)


@given(settings=st.dictionaries(ANY_TEXT, FINITE_JSON, max_size=5),
       xres=st.integers(1, letsrobot.MAX_RESOLUTION),
       yres=st.integers(1, letsrobot.MAX_RESOLUTION))
def test_settings_round_trip(settings: dict[str, Any], xres: int, yres: int) -> None:
    settings |= {'xres': xres, 'yres': str(yres)}
    parsed = decodes_or_raises(letsrobot.parse_settings, _wire(settings),
                               error=RemoteProtocolError)
    if isinstance(parsed, RemoteProtocolError):
        assert not _carriable(settings)  # the only reason: a string ROS cannot carry
        return
    assert (parsed.xres, parsed.yres) == (xres, yres)
    assert json.loads(parsed.text) == settings


def _carriable(value: Any) -> bool:
    if type(value) is dict:
        return all(_carriable(k) and _carriable(v) for k, v in value.items())
    if type(value) is list:
        return all(_carriable(v) for v in value)
    return type(value) is not str or ros_text(value)


def _has_surrogate(text: str) -> bool:
    return any(0xd800 <= ord(c) <= 0xdfff for c in text)


@given(ANY_TEXT | st.text(max_size=60).map(lambda s: '.' + s) |
       st.text(max_size=30).map(lambda s: '. exclusive ' + s))
def test_any_chat_text_is_a_command_or_not(text: str) -> None:
    command = letsrobot.parse_chat_command(text)
    if not text.startswith('.'):
        assert command is None
    else:
        assert isinstance(command, (ExclusiveControl, ExclusiveMods, ChatCommand))
    if isinstance(command, ExclusiveControl) and command.active:
        assert command.user and ' ' not in command.user  # the reference splits on spaces


@given(user=st.text(min_size=1, max_size=30).filter(
    lambda s: not any(c.isspace() for c in s) and s != 'off'))
def test_exclusive_chat_commands_round_trip(user: str) -> None:
    assert letsrobot.parse_chat_command(f'.exclusive {user}') == ExclusiveControl(True, user)
    assert letsrobot.parse_chat_command('.exclusive off') == ExclusiveControl(False, '')
    # As the reference: the word is matched exactly, and extra words make it do nothing.
    assert isinstance(letsrobot.parse_chat_command(f'.EXCLUSIVE {user}'), ChatCommand)
    assert isinstance(letsrobot.parse_chat_command(f'.exclusive {user} {user}'),
                      (ChatCommand, ExclusiveMods))


@given(running=st.booleans(), camera_id=ANY_TEXT, robot_id=ANY_TEXT, charging=st.booleans())
def test_emitted_payloads_survive_the_wire_or_raise_the_local_error(
        running: bool, camera_id: str, robot_id: str, charging: bool) -> None:
    status = decodes_or_raises(letsrobot.video_status, running, camera_id,
                               error=LocalProtocolError)
    if isinstance(status, LocalProtocolError):
        assert camera_id == ''
    else:
        number = camera_id.isascii() and camera_id.isdigit() and len(camera_id) < 19
        assert _wire(status) == {'send_video_process_exists': running,
                                 'camera_id': int(camera_id) if number else camera_id}
    charge = decodes_or_raises(letsrobot.charge_state, robot_id, charging,
                               error=LocalProtocolError)
    if isinstance(charge, LocalProtocolError):
        assert robot_id == ''
    else:
        assert _wire(charge) == {'robot_id': robot_id, 'charging': charging}


@given(key=ANY_TEXT, width=st.integers(-10, 10_000) | st.sampled_from([2**64, -2**64]),
       height=st.integers(-10, 10_000))
def test_stream_paths_round_trip_or_raise_the_local_error(key: str, width: int,
                                                          height: int) -> None:
    path = decodes_or_raises(letsrobot.stream_path, key, width, height,
                             error=LocalProtocolError)
    if isinstance(path, LocalProtocolError):
        assert _has_surrogate(key) or not (0 < width <= letsrobot.MAX_RESOLUTION and
                                           0 < height <= letsrobot.MAX_RESOLUTION)
        return
    empty, quoted, w, h, trailing = path.split('/')
    assert (empty, unquote(quoted, errors='strict'), w, h, trailing) == (
        '', key, str(width), str(height), '')


@given(robot_id=ANY_TEXT, camera_id=ANY_TEXT)
def test_discovery_paths_round_trip_or_raise_the_local_error(robot_id: str,
                                                             camera_id: str) -> None:
    paths = decodes_or_raises(letsrobot.discovery_paths, robot_id, camera_id,
                              error=LocalProtocolError)
    if isinstance(paths, LocalProtocolError):
        assert not robot_id or _has_surrogate(robot_id) or _has_surrogate(camera_id)
        return
    assert set(paths) >= {'control', 'chat', 'owner'}
    assert len(paths) == (6 if camera_id else 3)
    for name, path in paths.items():
        route, _, quoted = path[1:].partition('/')
        assert '/' not in quoted and '?' not in quoted and '#' not in quoted
        expected = camera_id if name in ('relay', 'video_port', 'audio_port') else robot_id
        assert unquote(quoted, errors='strict') == expected, (name, route)
    settings = decodes_or_raises(letsrobot.settings_path, robot_id, error=LocalProtocolError)
    assert isinstance(settings, str)
    assert unquote(settings.rpartition('/')[2], errors='strict') == robot_id
