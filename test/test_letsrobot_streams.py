"""letsrobot_bridge streams: real ffmpeg into the simulator's relay sinks; secrets stay secret."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, Callable

from letsrobot_helpers import (alive, bridge_params, CAMERA_ID, ffmpeg_children, SimControl,
                               start_sim, STREAM_KEY)
from lifecycle_msgs.msg import Transition
from rcl_interfaces.msg import Log
from rclpy.qos import qos_profile_sensor_data
from robot_bridges.msg import LetsRobotCommand
from ros_helpers import Collector, Diagnostics, ProbeNode, Proc, wait_for
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

NODE = 'letsrobot_bridge'
STREAMS = {'camera_id': CAMERA_ID, 'video_source': 'test', 'audio_source': 'test',
           'video_status_period_s': 1.0}


def start_bridge(procs: Callable[..., Proc], ns: str, sim_params: dict[str, str],
                 **params: Any) -> Proc:
    return procs(NODE, namespace=ns, params=bridge_params(sim_params, **params))


def valid_stream(sim: SimControl, kind: str, packets: int = 100) -> dict[str, Any]:
    """Wait until the relay holds a valid stream of ``kind`` with enough packets."""
    def valid() -> dict[str, Any] | None:
        last = sim.relay(kind)
        return last if last and last['valid'] and last['packets'] >= packets else None
    return wait_for(valid, 30, f'a valid {kind} stream at the relay')


def statuses(sim: SimControl) -> list[bool]:
    return [s['send_video_process_exists'] for s in sim.received('send_video_status', 'app')]


def test_test_sources_stream_restart_and_stop_on_deactivate(procs: Callable[..., Proc],
                                                            ros: ProbeNode) -> None:
    _, sim, sim_params = start_sim(procs)
    live: Collector[Bool] = ros.subscribe_latched(Bool, '/lr_av/live')
    diagnostics = Diagnostics(ros)
    bridge = start_bridge(procs, '/lr_av', sim_params, **STREAMS)
    video = valid_stream(sim, 'video')
    audio = valid_stream(sim, 'audio', 50)
    assert video['coded_size'] == video['path_size'] == [320, 240]  # the settings' xres/yres
    assert video['stream_types'] == [2] and video['mpeg2_extensions'] == 0
    assert audio['stream_types'] == [3] and audio['other_audio_frames'] == 0
    wait_for(lambda: live.messages and live.last.data, 15, 'live == true')
    wait_for(lambda: statuses(sim).count(True) >= 2, 15, 'video status true, periodically')
    assert sim.received('send_video_status')[-1]['camera_id'] == CAMERA_ID

    # ffmpeg killed: the supervisor starts it again and the relay gets a new stream.
    first = ffmpeg_children(bridge._popen.pid)
    assert len(first) == 2
    values = diagnostics.wait('/lr_av/letsrobot_bridge', lambda v: 'pid' in v['video_process'])
    video_pid = int(values['video_process'].split('pid ')[1].rstrip(')'))
    os.kill(video_pid, signal.SIGKILL)
    values = diagnostics.wait('/lr_av/letsrobot_bridge', lambda v: v['video_starts'] == '2'
                              and 'pid' in v['video_process'])
    assert str(video_pid) not in values['video_process']
    wait_for(lambda: sim.state()['relays']['video']['streams'] >= 2, 20, 'a second stream')
    valid_stream(sim, 'video', 50)

    # Deactivate: no ffmpeg left, a last false status, live false.
    assert ros.lifecycle('/lr_av/letsrobot_bridge', Transition.TRANSITION_DEACTIVATE)
    wait_for(lambda: not ffmpeg_children(bridge._popen.pid), 5, 'no ffmpeg child')
    assert not any(alive(pid) for pid in first)
    wait_for(lambda: statuses(sim) and statuses(sim)[-1] is False, 10, 'a false video status')
    assert not live.last.data
    assert bridge.returncode is None and 'Traceback' not in bridge.output


def test_topic_source_encodes_published_images(procs: Callable[..., Proc],
                                               ros: ProbeNode) -> None:
    _, sim, sim_params = start_sim(procs)
    diagnostics = Diagnostics(ros)
    start_bridge(procs, '/lr_topic', sim_params, camera_id=CAMERA_ID, video_source='topic')
    publisher = ros.publisher(Image, '/lr_topic/image')
    stop = threading.Event()

    def publish(width: int, height: int, encoding: str, channels: int) -> None:
        frame = 0
        while not stop.is_set():
            frame += 1
            row = bytes((frame + x) % 256 for x in range(width * channels))
            publisher.publish(Image(width=width, height=height, encoding=encoding,
                                    step=width * channels, data=row * height))
            time.sleep(0.02)  # 50 fps offered, 25 fps taken

    thread = threading.Thread(target=publish, args=(320, 240, 'rgb8', 3), daemon=True)
    thread.start()
    try:
        video = valid_stream(sim, 'video', 100)
        assert video['coded_size'] == [320, 240]
        values = diagnostics.wait('/lr_topic/letsrobot_bridge',
                                  lambda v: int(v['frames_written']) >= 25 and
                                  int(v['frames_dropped']) >= 10)
        assert values['video_starts'] == '1'
        stop.set()
        thread.join(5)
        # A new frame size restarts the encoder; the stream keeps the configured size.
        stop.clear()
        thread = threading.Thread(target=publish, args=(160, 120, 'mono8', 1), daemon=True)
        thread.start()
        diagnostics.wait('/lr_topic/letsrobot_bridge', lambda v: v['video_starts'] == '2')
        wait_for(lambda: sim.state()['relays']['video']['streams'] >= 2, 20, 'a new stream')
        assert valid_stream(sim, 'video', 50)['coded_size'] == [320, 240]
    finally:
        stop.set()
        thread.join(5)


def test_sigkill_of_the_node_leaves_no_ffmpeg(procs: Callable[..., Proc]) -> None:
    _, sim, sim_params = start_sim(procs)
    bridge = start_bridge(procs, '/lr_kill', sim_params, **STREAMS)
    valid_stream(sim, 'video', 20)
    streamers = wait_for(lambda: len(ffmpeg_children(bridge._popen.pid)) == 2 and
                         ffmpeg_children(bridge._popen.pid), 20, 'two ffmpeg children')
    bridge.kill()
    wait_for(lambda: not any(alive(pid) for pid in streamers), 5, 'ffmpeg gone after SIGKILL')


def test_the_stream_key_never_leaks(procs: Callable[..., Proc], ros: ProbeNode) -> None:
    # The relay expects another key (every ffmpeg fails), https against an http relay makes
    # ffmpeg print the URL, and discovery fails before it succeeds.
    _, sim, sim_params = start_sim(procs, '--stream-key', 'another-key',
                                   '--discovery-fault', 'control:status')
    rosout: Collector[Log] = ros.subscribe(Log, '/rosout')
    diagnostics = Diagnostics(ros)
    bridge = start_bridge(procs, '/lr_secret', sim_params, **STREAMS)
    diagnostics.wait('/lr_secret/letsrobot_bridge', lambda v: 'HTTP 503' in v['discovery'])
    sim.fault('control', 'none')
    values = diagnostics.wait('/lr_secret/letsrobot_bridge',
                              lambda v: int(v['video_starts']) >= 2 and v['video_last_error'],
                              30)
    assert sim.state()['relays']['video']['rejected_keys'] >= 2  # the key reached the relay
    bridge.stop()
    https = start_bridge(procs, '/lr_secret2', sim_params, relay_scheme='https', **STREAMS)
    values2 = diagnostics.wait('/lr_secret2/letsrobot_bridge',
                               lambda v: int(v['video_starts']) >= 2 and
                               '***' in v['video_last_error'], 30)
    time.sleep(1.0)
    texts = [bridge.output, https.output, *(m.msg for m in rosout.messages),
             *(f'{k}={v}' for k, v in (values | values2).items()),
             *(f'{k}={v}' for d in (diagnostics.values('/lr_secret/letsrobot_bridge'),
                                    diagnostics.values('/lr_secret2/letsrobot_bridge'))
               for k, v in d.items())]
    assert any('***' in text for text in texts)  # the URL was shown, redacted
    assert not [text for text in texts if STREAM_KEY in text]
    assert rosout.messages and 'Traceback' not in https.output


def test_image_reliability_must_match_the_camera(procs: Callable[..., Proc],
                                                 ros: ProbeNode) -> None:
    _, sim, sim_params = start_sim(procs)
    diagnostics = Diagnostics(ros)
    camera = ros.node.create_publisher(Image, '/lr_qos/image', qos_profile_sensor_data)
    camera2 = ros.node.create_publisher(Image, '/lr_qos2/image', qos_profile_sensor_data)
    small = Image(width=160, height=120, encoding='mono8', step=160, data=bytes(160 * 120))
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            camera.publish(small)
            camera2.publish(small)
            time.sleep(0.04)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    try:
        # The default (reliable) cannot hear a best-effort camera, and says so.
        start_bridge(procs, '/lr_qos', sim_params, camera_id=CAMERA_ID, video_source='topic')
        values = diagnostics.wait('/lr_qos/letsrobot_bridge',
                                  lambda v: int(v['image_qos_incompatible']) >= 1 and
                                  'image_reliability:=best_effort' in v['last_error'], 20)
        assert values['frames_written'] == '0' and values['video_starts'] == '0'
        # best_effort hears it.
        start_bridge(procs, '/lr_qos2', sim_params, camera_id=CAMERA_ID, video_source='topic',
                     image_reliability='best_effort')
        values = diagnostics.wait('/lr_qos2/letsrobot_bridge',
                                  lambda v: int(v['frames_written']) >= 10, 30)
        assert values['image_qos_incompatible'] == '0'
        assert diagnostics.values('/lr_qos/letsrobot_bridge')['frames_written'] == '0'
    finally:
        stop.set()
        thread.join(5)


def test_the_sites_vidoff_stops_both_encoders_and_vidon_starts_them(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    _, sim, sim_params = start_sim(procs)
    commands: Collector[LetsRobotCommand] = ros.subscribe(LetsRobotCommand, '/lr_vid/command')
    diagnostics = Diagnostics(ros)
    bridge = start_bridge(procs, '/lr_vid', sim_params, **STREAMS)
    valid_stream(sim, 'video', 50)
    wait_for(lambda: len(ffmpeg_children(bridge._popen.pid)) == 2, 10, 'two encoders')

    assert sim.video(False) == 1
    wait_for(lambda: not ffmpeg_children(bridge._popen.pid), 10, 'no encoder after VIDOFF')
    wait_for(lambda: sim.state()['video_reported'] == {
        'send_video_process_exists': False, 'camera_id': CAMERA_ID}, 10, 'status false')
    time.sleep(1.5)  # periodic statuses keep saying false, nothing restarts the encoders
    assert not ffmpeg_children(bridge._popen.pid)
    assert statuses(sim)[-1] is False

    streams = sim.state()['relays']['video']['streams']
    assert sim.video(True) == 1
    wait_for(lambda: sim.state()['relays']['video']['streams'] > streams, 20, 'a new stream')
    valid_stream(sim, 'video', 50)
    wait_for(lambda: statuses(sim)[-1] is True, 10, 'status true after VIDON')
    values = diagnostics.wait('/lr_vid/letsrobot_bridge', lambda v: v['app_commands'] == '2')
    assert values['video_off_by_site'] == 'false' and values['commands'] == '0'

    # VIDOFF and VIDON at once: the site's last word holds (the changes run in order).
    streams = sim.state()['relays']['video']['streams']
    assert sim.video(False) == 1 and sim.video(True) == 1
    wait_for(lambda: sim.state()['relays']['video']['streams'] > streams, 20,
             'a new stream after VIDOFF + VIDON')
    valid_stream(sim, 'video', 50)
    wait_for(lambda: len(ffmpeg_children(bridge._popen.pid)) == 2, 10, 'both encoders back')
    values = diagnostics.wait('/lr_vid/letsrobot_bridge', lambda v: v['app_commands'] == '4')
    assert values['video_off_by_site'] == 'false'
    assert not commands.messages  # the site's video commands never drive the robot
    assert bridge.returncode is None and 'Traceback' not in bridge.output
