"""The LetsRobot protocol module against golden payloads (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from robot_bridges.protocols import letsrobot
from robot_bridges.protocols.letsrobot import (ChatCommand, Command, ExclusiveControl,
                                               ExclusiveMods, HostPort,
                                               LocalProtocolError, MessageRemoved,
                                               RemoteProtocolError)

# As the site sent them (PROTOCOLS.md section 2).
GOLDEN_COMMAND = ('{"robot_id":"12345","command":"F","user":"alice","key_position":"down",'
                  '"anonymous":false}')
GOLDEN_COMMAND_NESTED = ('{"robot_id":"12345","command":"L",'
                         '"user":{"username":"bob","anonymous":true}}')
GOLDEN_CHAT = ('{"name":"alice","message":"[alice] hello ] robot ","robot_id":"12345",'
               '"room":"owner_room","non_global":true,"username_color":"#F16B74",'
               '"anonymous":false,"_id":"59ec0a1b"}')


def test_command_with_a_user_name() -> None:
    assert letsrobot.parse_command(json.loads(GOLDEN_COMMAND)) == Command(
        '12345', 'F', 'alice', 'down', False)


def test_command_with_the_older_nested_user() -> None:
    assert letsrobot.parse_command(json.loads(GOLDEN_COMMAND_NESTED)) == Command(
        '12345', 'L', 'bob', '', True)


def test_command_robot_id_given_as_a_number() -> None:
    assert letsrobot.parse_command({'robot_id': 7, 'command': 'B'}).robot_id == '7'


def test_chat_text_is_after_the_first_bracket_stripped() -> None:
    chat = letsrobot.parse_chat(json.loads(GOLDEN_CHAT))
    assert (chat.text, chat.message) == ('hello ] robot', '[alice] hello ] robot ')
    assert (chat.message_id, chat.name, chat.room, chat.username_color) == (
        '59ec0a1b', 'alice', 'owner_room', '#F16B74')
    assert chat.non_global and not chat.anonymous and not chat.is_command


def test_chat_without_a_bracket_is_all_text_and_dot_is_a_command() -> None:
    chat = letsrobot.parse_chat({'message': '  .exclusive bob '})
    assert chat.text == '.exclusive bob' and chat.is_command


@pytest.mark.parametrize('text, expected', [
    ('.exclusive bob', ExclusiveControl(True, 'bob')),
    ('.exclusive mods', ExclusiveControl(True, 'mods')),  # the reference: a user named mods
    ('.exclusive off', ExclusiveControl(False, '')),
    ('.exclusive off now', ExclusiveControl(False, '')),
    ('.exclusive mods on', ExclusiveMods(True)),
    ('.exclusive mods off', ExclusiveMods(False)),
    # Forms the reference ignores: a bare .exclusive, extra words, another case, a space.
    ('.exclusive', ChatCommand('exclusive', '')),
    ('.exclusive bob extra', ChatCommand('exclusive', 'bob extra')),
    ('.exclusive mods maybe', ChatCommand('exclusive', 'mods maybe')),
    ('.EXCLUSIVE Bob', ChatCommand('EXCLUSIVE', 'Bob')),
    ('. exclusive bob', ChatCommand('', 'exclusive bob')),
    ('.tts on', ChatCommand('tts', 'on')),
    ('hello', None),
])
def test_chat_commands(text: str, expected: object) -> None:
    assert letsrobot.parse_chat_command(text) == expected


@pytest.mark.parametrize('payload, expected', [
    ({'status': 'start', 'robot_id': '1', 'user': 'bob'}, ExclusiveControl(True, 'bob', '1')),
    ({'status': 'start', 'user': {'username': 'bob'}}, ExclusiveControl(True, 'bob')),
    ({'status': 'start', 'username': 'bob'}, ExclusiveControl(True, 'bob')),
    ({'status': 'end', 'robot_id': '1'}, ExclusiveControl(False, '', '1')),
])
def test_exclusive_control(payload: dict[str, Any], expected: ExclusiveControl) -> None:
    assert letsrobot.parse_exclusive(payload) == expected


def test_message_removed() -> None:
    assert letsrobot.parse_removed({'message_id': '59ec'}) == MessageRemoved('59ec')


@pytest.mark.parametrize('parse, payload', [
    (letsrobot.parse_command, 'F'),
    (letsrobot.parse_command, ['F']),
    (letsrobot.parse_command, None),
    (letsrobot.parse_command, {'robot_id': '1'}),
    (letsrobot.parse_command, {'command': 'F'}),
    (letsrobot.parse_command, {'robot_id': '1', 'command': 5}),
    (letsrobot.parse_command, {'robot_id': '1', 'command': ''}),
    (letsrobot.parse_command, {'robot_id': True, 'command': 'F'}),
    (letsrobot.parse_command, {'robot_id': '1', 'command': 'F', 'key_position': 'sideways'}),
    (letsrobot.parse_command, {'robot_id': '1', 'command': 'F', 'user': 3}),
    (letsrobot.parse_command, {'robot_id': '1', 'command': 'F', 'anonymous': 'no'}),
    (letsrobot.parse_command, {'robot_id': '1', 'command': 'F', 'user': {'username': 1}}),
    (letsrobot.parse_command, {'robot_id': '1', 'command': 'F' * 100_000}),
    (letsrobot.parse_command, {'robot_id': '1', 'command': 'F\x00'}),
    (letsrobot.parse_command, {'robot_id': '1', 'command': 'F\ud800'}),
    (letsrobot.parse_chat, {'name': 'a'}),
    (letsrobot.parse_chat, {'message': ['x']}),
    (letsrobot.parse_chat, {'message': 'x' * 100_000}),
    (letsrobot.parse_chat, {'message': '[a] b', 'non_global': 'yes'}),
    (letsrobot.parse_exclusive, {'status': 'maybe'}),
    (letsrobot.parse_exclusive, {'status': 'start'}),
    (letsrobot.parse_exclusive, 'start'),
    (letsrobot.parse_removed, {}),
    (letsrobot.parse_removed, {'message_id': ''}),
    (letsrobot.parse_removed, {'message_id': 12}),
])
def test_bad_payloads_raise_remote_errors(parse: Any, payload: Any) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse(payload)
    assert len(str(info.value)) < 300


def test_discovery_answers_of_both_port_shapes() -> None:
    assert letsrobot.parse_host_port({'host': 'letsrobot.tv', 'port': 8023}) == HostPort(
        'letsrobot.tv', 8023)
    assert letsrobot.parse_host({'host': 'relay.example'}) == 'relay.example'
    assert letsrobot.parse_port({'mpeg_stream_port': 11225}, 'mpeg_stream_port') == 11225
    assert letsrobot.parse_port({'port': 11226}, 'audio_stream_port') == 11226
    assert letsrobot.parse_port({'audio_stream_port': '11227'}, 'audio_stream_port') == 11227
    assert letsrobot.parse_owner({'owner': 'carol'}) == 'carol'


@pytest.mark.parametrize('parse, value', [
    (letsrobot.parse_host_port, {'host': 'h'}),
    (letsrobot.parse_host_port, {'host': 'h', 'port': 0}),
    (letsrobot.parse_host_port, {'host': 'h', 'port': 70000}),
    (letsrobot.parse_host_port, {'host': 'h', 'port': 2 ** 80}),
    (letsrobot.parse_host_port, {'host': 'h', 'port': 1.5}),
    (letsrobot.parse_host_port, {'host': 'h/x', 'port': 80}),
    (letsrobot.parse_host_port, {'host': '', 'port': 80}),
    (letsrobot.parse_host_port, [1, 2]),
    (letsrobot.parse_host, {'hostname': 'h'}),
    (lambda v: letsrobot.parse_port(v, 'mpeg_stream_port'), {'video_port': 1}),
    (lambda v: letsrobot.parse_port(v, 'mpeg_stream_port'), {'port': -1}),
    (lambda v: letsrobot.parse_port(v, 'mpeg_stream_port'), 'port'),
    (letsrobot.parse_owner, {'owner': ''}),
    (letsrobot.parse_owner, {}),
    (letsrobot.parse_settings, 'xres'),
])
def test_bad_discovery_answers_raise_remote_errors(parse: Any, value: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        parse(value)


def test_settings_resolution_and_text() -> None:
    settings_ = letsrobot.parse_settings({'xres': 320, 'yres': '240', 'mic_enabled': True})
    assert (settings_.xres, settings_.yres) == (320, 240)
    assert json.loads(settings_.text) == {'xres': 320, 'yres': '240', 'mic_enabled': True}
    unusable = letsrobot.parse_settings({'xres': -1, 'yres': 'big', 'x': float('nan')})
    assert (unusable.xres, unusable.yres) == (None, None)
    assert json.loads(unusable.text)['x'] is None  # strict JSON out


def test_settings_too_deep_or_with_a_lone_surrogate() -> None:
    deep: Any = 1
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RemoteProtocolError):
        letsrobot.parse_settings({'deep': deep})
    with pytest.raises(RemoteProtocolError):
        letsrobot.parse_settings({'name': '\udc00'})


def test_the_owners_moderators() -> None:
    assert letsrobot.parse_moderators({'moderators': ['a', 'b'], 'x': 1}) == ('a', 'b')
    assert letsrobot.parse_moderators({'username': 'o'}) == ()
    assert letsrobot.account_path('o w') == '/api/v1/accounts/o%20w'
    for bad in ({'moderators': 'a'}, {'moderators': [1]}, [], {'moderators': ['\x00']}):
        with pytest.raises(RemoteProtocolError):
            letsrobot.parse_moderators(bad)


def test_what_the_robot_emits() -> None:
    assert letsrobot.video_status(True, 'cam1') == {
        'send_video_process_exists': True, 'camera_id': 'cam1'}
    # The site's camera ids are numbers, sent as numbers (the reference's getint).
    assert letsrobot.video_status(False, '77') == {
        'send_video_process_exists': False, 'camera_id': 77}
    assert letsrobot.ip_information('10.0.0.5', '12') == {'ip': '10.0.0.5', 'robot_id': '12'}
    assert letsrobot.charge_state('12', False) == {'robot_id': '12', 'charging': False}
    assert letsrobot.stream_path('k/ey', 640, 480) == '/k%2Fey/640/480/'
    assert letsrobot.discovery_paths('12', '')['control'] == '/get_control_host_port/12'
    assert letsrobot.discovery_paths('12', 'c 1')['video_port'] == '/get_video_port/c%201'
    assert letsrobot.settings_path('12') == '/api/v1/robots/12'
    for build in (lambda: letsrobot.video_status(True, ''), lambda: letsrobot.charge_state('', 1),
                  lambda: letsrobot.ip_information('', '12'),
                  lambda: letsrobot.stream_path('k', 0, 480),
                  lambda: letsrobot.discovery_paths('', 'c')):
        with pytest.raises(LocalProtocolError):
            build()


def test_values_python_cannot_write_raise_remote_errors() -> None:
    # Found by test_fuzz_letsrobot.py: a bare ValueError from json.dumps and from the
    # excerpt in the error message.
    with pytest.raises(RemoteProtocolError):
        letsrobot.parse_settings({'xres': 10**5000})
    with pytest.raises(RemoteProtocolError) as info:
        letsrobot.parse_port({'port': 10**5000}, 'audio_stream_port')
    assert len(str(info.value)) < 300


@pytest.mark.parametrize('build', [lambda: letsrobot.stream_path('k\ud800', 640, 480),
                                   lambda: letsrobot.discovery_paths('\udc00', 'c'),
                                   lambda: letsrobot.discovery_paths('1', 'c\ud800'),
                                   lambda: letsrobot.settings_path('\ud800')])
def test_lone_surrogates_in_paths_raise_local_errors(build: Any) -> None:
    # Found by test_fuzz_letsrobot.py: quote() raised UnicodeEncodeError.
    with pytest.raises(LocalProtocolError, match='lone surrogate'):
        build()
