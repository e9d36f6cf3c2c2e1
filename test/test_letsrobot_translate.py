"""LetsRobot translation: messages, owner/exclusive rules, ffmpeg command lines (pure)."""

from __future__ import annotations

from builtin_interfaces.msg import Time
import pytest
from robot_bridges.protocols.letsrobot import (Command, ExclusiveControl, LocalProtocolError,
                                               parse_chat)
from robot_bridges.translate import letsrobot as translate
from robot_bridges.translate.letsrobot import (AudioSpec, ControlFilter, FramePacer, VideoSpec)

STAMP = Time(sec=12, nanosec=34)
KEY = 'S3cr3t/Key'


def command(user: str, robot_id: str = '1') -> Command:
    return Command(robot_id, 'F', user, 'down', False)


def chat(name: str, text: str, robot_id: str = '') -> object:
    return parse_chat({'name': name, 'message': f'[{name}] {text}', 'robot_id': robot_id})


def test_command_and_chat_messages() -> None:
    msg = translate.command_message(Command('1', 'F', 'alice', 'up', True), STAMP, False)
    assert (msg.command, msg.user, msg.key_position, msg.anonymous, msg.from_owner) == (
        'F', 'alice', 'up', True, False)
    assert msg.header.stamp == STAMP
    parsed = parse_chat({'_id': 'x1', 'name': 'o', 'message': '[o] .exclusive bob',
                         'room': 'r', 'non_global': True, 'username_color': '#fff'})
    chat_msg = translate.chat_message(parsed, STAMP, True)
    assert (chat_msg.id, chat_msg.name, chat_msg.text, chat_msg.message, chat_msg.room) == (
        'x1', 'o', '.exclusive bob', '[o] .exclusive bob', 'r')
    assert chat_msg.is_command and chat_msg.from_owner and chat_msg.non_global
    assert chat_msg.username_color == '#fff' and chat_msg.header.stamp == STAMP


def test_other_robots_commands_are_filtered() -> None:
    rules = ControlFilter('1', 'owner')
    assert rules.decide(command('alice')) == 'publish'
    assert rules.decide(command('alice', robot_id='2')) == 'filtered'


def test_exclusive_control_by_the_owners_chat_command() -> None:
    rules = ControlFilter('1', 'owner')
    assert not rules.chat(chat('alice', '.exclusive alice'))  # not the owner: no effect
    assert rules.exclusive_user == ''
    assert rules.chat(chat('owner', '.exclusive bob'))
    assert rules.exclusive_user == 'bob'
    assert [rules.decide(command(u)) for u in ('alice', 'bob', 'owner', '')] == [
        'excluded', 'publish', 'publish', 'excluded']
    assert not rules.chat(chat('bob', '.exclusive off'))
    assert not rules.chat(chat('owner', '.exclusive off', robot_id='2'))  # another robot
    assert not rules.chat(chat('owner', 'exclusive off'))  # speech, not a command
    assert rules.chat(chat('owner', '.exclusive off'))
    assert rules.decide(command('alice')) == 'publish'
    assert rules.chat(chat('owner', '.exclusive carol'))
    # As the reference: a bare .exclusive and extra words do nothing.
    assert not rules.chat(chat('owner', '.exclusive'))
    assert not rules.chat(chat('owner', '.exclusive dave now'))
    assert rules.exclusive_user == 'carol'


def test_exclusive_mods_lets_moderators_drive_while_it_is_on() -> None:
    rules = ControlFilter('1', 'owner', moderators=('mod1',))
    assert rules.chat(chat('owner', '.exclusive bob'))
    assert rules.decide(command('mod1')) == 'excluded'
    assert not rules.chat(chat('mod1', '.exclusive mods on'))  # only the owner
    assert not rules.exclusive_mods
    assert not rules.chat(chat('owner', '.exclusive mods on'))  # the user stays bob
    assert rules.exclusive_mods and rules.exclusive_user == 'bob'
    assert [rules.decide(command(u)) for u in ('mod1', 'alice', 'bob')] == [
        'publish', 'excluded', 'publish']
    rules.chat(chat('owner', '.exclusive mods off'))
    assert rules.decide(command('mod1')) == 'excluded'
    assert rules.chat(chat('owner', '.exclusive mods'))  # two words: a user named mods
    assert rules.exclusive_user == 'mods'


def test_exclusive_control_by_the_site() -> None:
    rules = ControlFilter('1', 'owner')
    assert rules.exclusive(ExclusiveControl(True, 'bob', '1'))
    assert not rules.exclusive(ExclusiveControl(False, '', '2'))  # another robot
    assert rules.decide(command('alice')) == 'excluded'
    assert rules.exclusive(ExclusiveControl(False, ''))
    assert rules.decide(command('alice')) == 'publish'


def test_without_a_known_owner_nobody_is_owner() -> None:
    rules = ControlFilter('1', '')
    assert not rules.is_owner('')
    assert not rules.chat(chat('', '.exclusive bob'))


def test_video_argv_of_each_source_holds_the_key_only_in_the_url() -> None:
    url = translate.stream_url('http', '127.0.0.1', 11225, KEY, 320, 240)
    assert url == 'http://127.0.0.1:11225/S3cr3t%2FKey/320/240/'
    for spec in (VideoSpec('test', 320, 240, 25, 350),
                 VideoSpec('v4l2:/dev/video0', 320, 240, 25, 350),
                 VideoSpec('topic', 320, 240, 25, 350, (640, 480), 'bgr24')):
        argv = translate.video_argv('ffmpeg', spec, url)
        assert argv[0] == 'ffmpeg' and argv[-1] == url
        assert [i for i, arg in enumerate(argv) if 'S3cr3t' in arg] == [len(argv) - 1]
        joined = ' '.join(argv)
        assert '-f mpegts -codec:v mpeg1video -s 320x240 -r 25 -b:v 350k -bf 0' in joined
        assert '-muxdelay 0.001' in joined
        shown = translate.display_argv(argv, KEY)
        assert 'S3cr3t' not in shown and 'http://127.0.0.1:11225/***/320/240/' in shown
    topic = translate.video_argv('ffmpeg', VideoSpec('topic', 320, 240, 25, 350, (640, 480),
                                                     'bgr24'), url)
    assert '-f rawvideo -pix_fmt bgr24 -video_size 640x480 -framerate 25 -i pipe:0' in \
        ' '.join(topic)
    v4l2 = translate.video_argv('ffmpeg', VideoSpec('v4l2:/dev/video2', 320, 240, 30, 350), url)
    assert '-f v4l2 -framerate 30 -video_size 320x240 -i /dev/video2' in ' '.join(v4l2)
    with pytest.raises(LocalProtocolError):
        translate.video_argv('ffmpeg', VideoSpec('topic', 320, 240, 25, 350), url)


def test_audio_argv() -> None:
    url = translate.stream_url('https', 'relay', 1, KEY, 640, 480)
    for source, part in (('test', '-f lavfi -i sine='), ('alsa:hw:1', '-f alsa -i hw:1')):
        argv = translate.audio_argv('/x/ffmpeg', AudioSpec(source, 32), url)
        joined = ' '.join(argv)
        assert part in joined and argv[-1] == url
        assert '-f mpegts -codec:a mp2 -b:a 32k -ar 44100 -ac 1' in joined
    with pytest.raises(LocalProtocolError):
        translate.stream_url('ftp', 'relay', 1, KEY, 640, 480)


@pytest.mark.parametrize('source', ['test', 'topic', 'none', 'v4l2:/dev/video0'])
def test_known_video_sources(source: str) -> None:
    translate.check_video_source(source)


@pytest.mark.parametrize('source', ['', 'v4l2:', 'v4l2:video0', 'camera', 'alsa:hw:0'])
def test_unknown_video_sources(source: str) -> None:
    with pytest.raises(ValueError):
        translate.check_video_source(source)


def test_audio_sources() -> None:
    for source in ('test', 'none', 'alsa:hw:0'):
        translate.check_audio_source(source)
    for source in ('', 'alsa:', 'mic'):
        with pytest.raises(ValueError):
            translate.check_audio_source(source)


def test_raw_formats() -> None:
    assert translate.raw_format('rgb8') == ('rgb24', 3)
    assert translate.raw_format('mono8') == ('gray', 1)
    with pytest.raises(ValueError):
        translate.raw_format('rgba16')


def test_frame_pacer_thins_a_fast_source_to_fps() -> None:
    pacer = FramePacer(10.0)
    passed = sum(pacer.admit(i * 0.025) for i in range(400))  # 40 fps for 10 s
    assert 99 <= passed <= 101 and pacer.dropped == 400 - passed
    exact = FramePacer(10.0)
    jitter = [0.0, 0.02, -0.02, 0.015, -0.01]
    assert all(exact.admit(i * 0.1 + jitter[i % 5]) for i in range(100))


def test_frame_pacer_lets_a_late_bunch_through_but_bounds_any_burst() -> None:
    pacer = FramePacer(10.0)
    # Frames of 0.1, 0.2 and 0.3 s held up by a busy executor, delivered together.
    assert all(pacer.admit(t) for t in (0.0, 0.31, 0.311, 0.312, 0.4, 0.5))
    assert pacer.dropped == 0
    # After a long pause a fast source gets at most catch_up (3) frames ahead of fps.
    burst = sum(pacer.admit(10.0 + i * 0.001) for i in range(100))
    assert burst == 4 and pacer.dropped == 96
    # Over a long run the average stays at fps whatever the pattern.
    pacer = FramePacer(10.0)
    times = [i * 0.05 + (0.3 if i % 20 == 0 else 0.0) for i in range(2000)]  # 20 fps, stalls
    assert sum(pacer.admit(t) for t in sorted(times)) <= 100 * 10 + 4
