"""
Node letsrobot_bridge: a ROS robot on LetsRobot.tv.

Activate runs, on the asyncio loop: discovery over HTTP (retried with backoff until every
route answers), then four socket.io connections (control, chat, app, user;
:mod:`robot_bridges.bridges.letsrobot_sockets`) that stay up for the node's active life, the
periodic emits (identification and ``ip_information``, video status, charge state) and one
supervised ffmpeg per stream (:mod:`robot_bridges.bridges.letsrobot_video`). Events are
parsed, filtered and published on the loop thread. ``connected`` is true while control and
chat are both up.

Drive commands come from the control socket only and are published on ``command``
(:meth:`LetsRobotBridge._command`). The app socket's ``command_to_robot`` is for the video
side, as in the reference client (``video/ffmpeg.py``): ``VIDOFF`` stops both encoders and
reports ``send_video_status`` false, ``VIDON`` starts them again; others are logged and
counted. Both Engine.IO protocols are spoken (``engineio_protocol``; see
:mod:`robot_bridges.runtime.socketio_eio3`).
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from typing import Any, Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import aiohttp
from rclpy.event_handler import (QoSMessageLostInfo, QoSRequestedIncompatibleQoSInfo,
                                 SubscriptionEventCallbacks)
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, qos_policy_name_from_kind,
                       qos_profile_sensor_data, QoSProfile, ReliabilityPolicy)
from robot_bridges.bridges import letsrobot_cmd_vel, letsrobot_sockets as site
from robot_bridges.bridges.letsrobot_av import AvConfig, find_ffmpeg, frame_of, Relay, VideoSide
from robot_bridges.bridges.letsrobot_sockets import Discovered, SiteSockets, SOCKETS
from robot_bridges.bridges.letsrobot_video import Frame
from robot_bridges.msg import LetsRobotChat, LetsRobotCommand
from robot_bridges.node import params
from robot_bridges.node.bridge_node import BridgeNode
from robot_bridges.node.qos import LATCHED, reliable
from robot_bridges.node.runner import run_bridge
from robot_bridges.protocols import letsrobot as proto
from robot_bridges.protocols.letsrobot import RemoteProtocolError, Settings
from robot_bridges.protocols.text import excerpt
from robot_bridges.runtime.http_json import retry_with_backoff, RetryStopped
from robot_bridges.runtime.loop_thread import LoopThread
from robot_bridges.runtime.redact import describe_exception, redact, redact_url
from robot_bridges.runtime.socketio_eio3 import PROTOCOLS
from robot_bridges.translate import letsrobot as translate
from robot_bridges.translate.letsrobot import ControlFilter
from sensor_msgs.msg import BatteryState, Image
from std_msgs.msg import Bool, String

# Which socket may deliver which event (PROTOCOLS.md section 2); others are ignored.
EVENTS = {
    proto.COMMAND_TO_ROBOT: ('control', 'app'),
    proto.CHAT_MESSAGE: ('chat',),
    proto.EXCLUSIVE_CONTROL: ('app',),
    proto.SETTINGS_CHANGED: ('app',),
    proto.MESSAGE_REMOVED: ('user',),
}
FINAL_STATUS_TIMEOUT_S = 0.25
STREAM_KEY_ENV = 'LETSROBOT_STREAM_KEY'
IMAGE_RELIABILITY = {'reliable': ReliabilityPolicy.RELIABLE,
                     'best_effort': ReliabilityPolicy.BEST_EFFORT}
# Frames the image subscription holds for the executor: the newest wins.
IMAGE_DEPTH = 2


class LetsRobotBridge(BridgeNode):
    """command / chat / chat_removed / exclusive_user / owner / settings / live; streams."""

    DEFAULT_NAMESPACE = 'letsrobot'

    def __init__(self, loop: LoopThread, **kwargs: Any) -> None:
        kwargs.setdefault('namespace', self.DEFAULT_NAMESPACE)
        super().__init__('letsrobot_bridge', loop, **kwargs)

    def declare_bridge_parameters(self) -> None:
        d = functools.partial(params.declare, self)
        d('robot_id', '', 'The robot id on LetsRobot.tv (required).')
        d('camera_id', '', 'The camera id; empty: no streams and no video status.')
        d('stream_key', '', f'Secret stream key; empty: read from {STREAM_KEY_ENV}.')
        d('info_server', 'https://letsrobot.tv', 'Discovery server (get_* routes).')
        d('api_server', 'https://api.letsrobot.tv', 'Settings API server.')
        d('app_server', 'http://letsrobot.tv:8022',
          'App server socket.io URL (the reference clients dial plain http on 8022).')
        d('user_server', 'https://letsrobot.tv:8000', 'User socket.io URL (removals).')
        d('relay_scheme', 'http', 'Scheme of the video/audio relay URLs: http or https.')
        d('owner', '', 'Owner name; empty: from get_robot_owner.')
        d('moderators', [], 'Users who may drive during exclusive control after the '
          "owner's .exclusive mods on, besides the owner's account's moderators.")
        d('engineio_protocol', 'auto', 'Engine.IO protocol of the socket.io servers: auto '
          '(detected at every connect), 3 (socket.io 1.x/2.x) or 4 (socket.io 3.x/4.x).')
        d('identify_period_s', 60.0, 'Re-identify on every socket this often, seconds.',
          min_value=1.0, max_value=3600.0)
        d('ip_information', True, 'Send ip_information {ip, robot_id} on the app socket '
          'with every identification (the address of the connection to the app server).')
        d('video_status_period_s', 30.0, 'Send the video status this often, seconds.',
          min_value=1.0, max_value=3600.0)
        d('charge_state_period_s', 60.0, 'Send the charge state this often, seconds.',
          min_value=1.0, max_value=3600.0)
        d('qos_depth', 100, 'History depth of command, chat and chat_removed.',
          min_value=1, max_value=1_000_000)
        self.declare_pacing_parameter('command')
        d('video_source', 'v4l2:/dev/video0',
          'test, v4l2:/dev/videoN, topic (the image subscription) or none.')
        d('video_width', 0, 'Stream width; 0: the settings xres, else 640.',
          min_value=0, max_value=proto.MAX_RESOLUTION)
        d('video_height', 0, 'Stream height; 0: the settings yres, else 480.',
          min_value=0, max_value=proto.MAX_RESOLUTION)
        d('video_fps', 25, 'Frames per second (MPEG-1: 24, 25, 30, 50 or 60).',
          min_value=1, max_value=60)
        d('video_kbps', 350, 'Video bitrate, kbit/s.', min_value=16, max_value=100_000)
        d('audio_source', 'none', 'test (a tone), alsa:hw:N or none.')
        d('audio_kbps', 32, 'Audio bitrate, kbit/s.', min_value=8, max_value=384)
        d('image_reliability', 'reliable',
          'QoS reliability of the image subscription: reliable or best_effort.')
        d('ffmpeg', '', "ffmpeg program; empty: imageio-ffmpeg's binary, else ffmpeg on PATH.")
        letsrobot_cmd_vel.declare_parameters(self)

    # -- configure -------------------------------------------------------------------------

    def setup(self) -> None:
        get = functools.partial(params.get, self)
        self._robot_id = get('robot_id').strip()
        if not self._robot_id:
            raise ValueError('robot_id is empty: set it to the robot id LetsRobot.tv gave you')
        self._camera_id = get('camera_id').strip()
        key = get('stream_key') or os.environ.get(STREAM_KEY_ENV, '')
        self.secrets = translate.key_forms(key)
        urls = {name: _checked_url(name, get(f'{name}_server'))
                for name in ('info', 'api', 'app', 'user')}
        self._servers = site.Servers(**urls, robot_id=self._robot_id, camera_id=self._camera_id)
        self._engineio_protocol = get('engineio_protocol')
        if self._engineio_protocol not in PROTOCOLS:
            raise ValueError(f'engineio_protocol {self._engineio_protocol!r}: expected auto, '
                             '3 or 4')
        self._ip_information = get('ip_information')
        self._relay_scheme = get('relay_scheme')
        if self._relay_scheme not in ('http', 'https'):
            raise ValueError(f'relay_scheme {self._relay_scheme!r}: expected http or https')
        self._video_source = get('video_source') if self._camera_id else 'none'
        self._audio_source = get('audio_source') if self._camera_id else 'none'
        translate.check_video_source(self._video_source)
        translate.check_audio_source(self._audio_source)
        self._fps = get('video_fps')
        if self._fps not in translate.MPEG1_FRAME_RATES:
            raise ValueError(f'video_fps {self._fps}: MPEG-1 allows '
                             f'{", ".join(map(str, translate.MPEG1_FRAME_RATES))}')
        streams = self._video_source != 'none' or self._audio_source != 'none'
        if streams and not key:
            raise ValueError(f'stream_key is empty and {STREAM_KEY_ENV} is not set')
        self._ffmpeg = find_ffmpeg(get('ffmpeg')) if streams else ''
        image_reliability = get('image_reliability')
        if image_reliability not in IMAGE_RELIABILITY:
            raise ValueError(f'image_reliability {image_reliability!r}: expected '
                             f'{" or ".join(IMAGE_RELIABILITY)}')
        self._periods = {name: get(f'{name}_period_s')
                         for name in ('identify', 'video_status', 'charge_state')}
        self._owner_param = get('owner').strip()
        self._backoff = self.backoff()

        depth = get('qos_depth')
        self._command_pub = self.make_paced_publisher(LetsRobotCommand, 'command', reliable(depth))
        self._chat_pub = self.make_publisher(LetsRobotChat, 'chat', reliable(depth))
        self._removed_pub = self.make_publisher(String, 'chat_removed', reliable(depth))
        self._exclusive_pub = self.make_publisher(String, 'exclusive_user', LATCHED)
        self._owner_pub = self.make_publisher(String, 'owner', LATCHED)
        self._settings_pub = self.make_publisher(String, 'settings', LATCHED)
        self._live_pub = self.make_publisher(Bool, 'live', LATCHED)
        self._cmd_vel = letsrobot_cmd_vel.CmdVel.configure(self)
        self.make_subscription(BatteryState, 'battery_state', self._on_battery,
                               qos_profile_sensor_data)
        # Written on the executor thread only (subscription events).
        self._image_events = dict.fromkeys(('frames_lost', 'image_qos_incompatible'), 0)
        if self._video_source == 'topic':
            self.make_subscription(
                Image, 'image', self._on_image, _image_qos(image_reliability),
                event_callbacks=SubscriptionEventCallbacks(
                    message_lost=self._on_frames_lost,
                    incompatible_qos=self._on_image_incompatible))

        self._moderators = frozenset(params.get_strings(self, 'moderators'))
        self._filter = ControlFilter(self._robot_id, self._owner_param, self._moderators)
        self._counts = dict.fromkeys(('commands', 'filtered', 'excluded', 'chat',
                                      'chat_other_robot', 'removed', 'video_status_sent',
                                      'charge_state_sent', 'discovery_failures',
                                      'app_commands', 'app_commands_ignored'), 0)
        self._discovery = 'not started'
        self._found: Discovered | None = None
        self._sockets: SiteSockets | None = None
        self._av = VideoSide(
            AvConfig(self._ffmpeg, self._video_source, self._audio_source, self._fps,
                     get('video_kbps'), get('audio_kbps'), self._relay_scheme, key),
            self, self._backoff, self.secrets, log=self.get_logger().info, spawn=self._spawn)
        self._live = False
        self._charging: bool | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing: asyncio.Event | None = None
        self._refetching = False

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        self._live_pub.publish(Bool(data=False))
        self._exclusive_pub.publish(String(data=self._filter.exclusive_user))
        self._cmd_vel.activate()
        return result

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._cmd_vel.deactivate()  # first: the zero goes out while the publisher is active
        self._live_pub.publish(Bool(data=False))  # the streams stop below; say so while we can
        return super().on_deactivate(state)

    # -- the link (asyncio thread) ---------------------------------------------------------

    async def run_link(self) -> None:
        """Discover, then hold the sockets, streams and periodic emits until closed."""
        self._closing = closing = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            self._session = session
            self._discovery = 'running'
            try:
                found = await retry_with_backoff(
                    lambda: site.discover(session, self._servers, self._owner_param,
                                          self._video_source != 'none',
                                          self._audio_source != 'none'),
                    self._backoff, self._discovery_failed, stop=closing)
            except RetryStopped:
                return
            self._discovery = 'done'
            self._found = found
            self._apply_owner(found.owner)
            # The parameter's and the account's as they are now (the owner may remove some).
            self._filter.moderators = self._moderators | frozenset(found.moderators)
            if found.moderators_error:
                self.link_error(f"the owner's moderators could not be read: "
                                f'{found.moderators_error}')
            self._apply_settings(found.settings)
            self._sockets = sockets = SiteSockets(
                self, self._servers, self._backoff, self.secrets,
                engineio_protocol=self._engineio_protocol, ip_information=self._ip_information)
            sockets.start(session, found)
            self._av.begin(Relay(found.relay_host, found.video_port, found.audio_port))
            self._spawn(self._every('identify', sockets.identify))
            if self._camera_id:
                self._spawn(self._every('video_status', self._send_video_status))
            self._spawn(self._every('charge_state', self._send_charge_state))
            try:
                await closing.wait()
            finally:
                await self._stop_everything()

    async def close_link(self) -> None:
        """Say the video is off, then stop streams and sockets."""
        if self._closing is None:
            return
        if self._sockets is not None and self._camera_id:
            try:
                await asyncio.wait_for(self._sockets.emit_now(
                    'app', proto.VIDEO_STATUS, proto.video_status(False, self._camera_id)),
                    FINAL_STATUS_TIMEOUT_S)
                self._counts['video_status_sent'] += 1
            except asyncio.TimeoutError:
                pass
        self._closing.set()
        await self._stop_everything()

    async def _stop_everything(self) -> None:
        sockets, self._sockets = self._sockets, None
        await asyncio.gather(self._av.stop(), *([sockets.close()] if sockets else []),
                             return_exceptions=True)
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _every(self, name: str, act: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(self._periods[name])
            try:
                act()
            except Exception as exc:  # noqa: B902 - a failed period must not end the next
                self.link_error(f'{name}: {describe_exception(exc)}')

    # -- discovery ---------------------------------------------------------------------------

    def _discovery_failed(self, what: str) -> None:
        self._counts['discovery_failures'] += 1
        self._discovery = f'retrying: {redact(what, self.secrets)}'
        self.link_error(f'discovery failed: {what}')

    def _apply_owner(self, owner: str) -> None:
        self._filter.owner = owner
        self._owner_pub.publish(String(data=owner))

    def _apply_settings(self, settings: Settings) -> None:
        self._settings = settings
        self._settings_pub.publish(String(data=settings.text))
        self._av.resize(self._stream_size())

    async def _refetch_settings(self) -> None:
        if self._refetching:
            return
        self._refetching = True
        try:
            settings = await site.refetch_settings(self._session, self._servers)
        except Exception as exc:  # noqa: B902 - FetchError or RemoteProtocolError: keep the old
            self.link_error(f'settings re-fetch failed: {describe_exception(exc)}')
            return
        finally:
            self._refetching = False
        self._apply_settings(settings)

    # -- sockets -----------------------------------------------------------------------------

    def socket_up(self, name: str) -> None:
        """One socket connected and identified itself."""
        if name == 'app':
            self._send_video_status()  # the site learns at once, not a period later
        up = self._sockets.up if self._sockets is not None else {}
        if up.get('control') and up.get('chat') and not self.stats.connected:
            self.link_up()

    def socket_down(self, name: str, reason: str) -> None:
        """One socket lost its connection (it reconnects by itself)."""
        if name == 'control':
            self._cmd_vel.halt()  # drive commands come only from the control socket
        if name in ('control', 'chat') and self.stats.connected:
            self.link_down(f'{name} socket: {reason}')

    def log_info(self, what: str) -> None:
        """Log one line (the sockets' news, e.g. a server that moved)."""
        self.get_logger().info(redact(what, self.secrets))

    def hardware_id(self) -> str:
        """Return the info server, without credentials."""
        servers = getattr(self, '_servers', None)
        return redact_url(servers.info) if servers else ''

    # -- events (asyncio thread: hot path) ---------------------------------------------------

    def socket_event(self, socket_name: str, event: str, data: object) -> None:
        """Parse, filter and publish one event (loop thread: the hot path)."""
        sockets = EVENTS.get(event)
        if sockets is None or socket_name not in sockets:
            return  # the site sends more events than a robot uses
        self.stats.messages_in += 1
        try:
            if event == proto.COMMAND_TO_ROBOT and socket_name == 'app':
                self._app_command(proto.parse_command(data))
            elif event == proto.COMMAND_TO_ROBOT:
                self._command(proto.parse_command(data))
            elif event == proto.CHAT_MESSAGE:
                self._chat(proto.parse_chat(data))
            elif event == proto.EXCLUSIVE_CONTROL:
                if self._filter.exclusive(proto.parse_exclusive(data)):
                    self._exclusive_pub.publish(String(data=self._filter.exclusive_user))
            elif event == proto.MESSAGE_REMOVED:
                self._removed_pub.publish(String(data=proto.parse_removed(data).message_id))
                self._counts['removed'] += 1
            elif self._for_this_robot(data):
                self._spawn(self._refetch_settings())
        except RemoteProtocolError as exc:
            self.count_bad_input(f'{event} on the {socket_name} socket: {exc}')

    def _command(self, command: proto.Command) -> None:
        verdict = self._filter.decide(command)
        if verdict != 'publish':
            self._counts[verdict] += 1
            return
        self._counts['commands'] += 1
        self._command_pub.publish(translate.command_message(
            command, self.get_clock().now().to_msg(), self._filter.is_owner(command.user)))
        self._cmd_vel.command(command.command, command.key_position)

    def _app_command(self, command: proto.Command) -> None:
        # The reference's video side obeys VIDOFF / VIDON for this robot; nothing else of
        # the app socket's commands drives the robot.
        if not self._filter.for_this_robot(command.robot_id):
            self._counts['filtered'] += 1
            return
        if command.command not in (proto.VIDEO_OFF, proto.VIDEO_ON):
            self._counts['app_commands_ignored'] += 1
            self.get_logger().info(f'app socket command {excerpt(command.command)} ignored '
                                   '(not VIDOFF or VIDON)')
            return
        self._counts['app_commands'] += 1
        self.get_logger().info(f'app socket: {command.command}')
        if command.command == proto.VIDEO_OFF:
            self._av.site_off()  # off at once; the encoders stop in order behind
        else:
            self._av.site_on()
        self._send_video_status()

    def _chat(self, chat: proto.ChatMessage) -> None:
        if not self._filter.for_this_robot(chat.robot_id):
            self._counts['chat_other_robot'] += 1
            return
        self._counts['chat'] += 1
        self._chat_pub.publish(translate.chat_message(
            chat, self.get_clock().now().to_msg(), self._filter.is_owner(chat.name)))
        if self._filter.chat(chat):
            self._exclusive_pub.publish(String(data=self._filter.exclusive_user))

    def _for_this_robot(self, data: object) -> bool:
        robot_id = data.get('robot_id') if isinstance(data, dict) else None
        return robot_id is None or str(robot_id) == self._robot_id

    # -- periodic emits ----------------------------------------------------------------------

    def _send_video_status(self) -> None:
        if self._sockets is None or not self._camera_id:
            return
        running = self._av.video_running
        if self._sockets.emit('app', proto.VIDEO_STATUS,
                              proto.video_status(running, self._camera_id)):
            self._counts['video_status_sent'] += 1

    def _send_charge_state(self) -> None:
        if self._sockets is None or self._charging is None:
            return
        if self._sockets.emit('app', proto.CHARGE_STATE,
                              proto.charge_state(self._robot_id, self._charging)):
            self._counts['charge_state_sent'] += 1

    def _set_charging(self, charging: bool) -> None:
        changed = charging != self._charging
        self._charging = charging
        if changed:
            self._send_charge_state()

    # -- streams (asyncio thread) ------------------------------------------------------------

    def _stream_size(self) -> tuple[int, int]:
        width, height = params.get(self, 'video_width'), params.get(self, 'video_height')
        settings = getattr(self, '_settings', None)
        default_w, default_h = proto.DEFAULT_RESOLUTION
        if not width:
            width = (settings.xres if settings else None) or default_w
        if not height:
            height = (settings.yres if settings else None) or default_h
        return width, height

    def _offer(self, frame: Frame) -> None:
        if self._closing is not None and not self._closing.is_set():
            self._av.offer(frame)

    def stream_changed(self, kind: str, running: bool) -> None:
        """Update ``live`` and tell the site: an ffmpeg started or ended."""
        if kind != 'video':
            return
        live = self._av.streams['video'].running
        if live != self._live:
            self._live = live
            if self.context.ok():
                self._live_pub.publish(Bool(data=live))
            if self._closing is not None and not self._closing.is_set():
                self._send_video_status()

    def stream_failed(self, kind: str, reason: str) -> None:
        """Report an ffmpeg that ended or could not start (the supervisor restarts it)."""
        if self._closing is None or self._closing.is_set():
            return
        self.stats.last_error = f'{kind} ffmpeg: {redact(reason, self.secrets)}'
        self._warn_throttled(f'{kind} ffmpeg: {redact(reason, self.secrets)}',
                             f'(starts: {self._av.streams[kind].starts}; restarting)')

    # -- executor thread ---------------------------------------------------------------------

    def _on_battery(self, msg: BatteryState) -> None:
        charging = msg.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_CHARGING
        self.loop.call_soon(self._set_charging, charging)

    def _on_image(self, msg: Image) -> None:
        if self._video_source != 'topic' or not self.is_active:
            return
        if not self._av.pacer.admit(time.monotonic()):
            return
        try:
            frame = frame_of(msg.width, msg.height, msg.step, msg.encoding, msg.data)
        except ValueError as exc:
            self.count_bad_input(f'image: {exc}')
            return
        self.loop.call_soon(self._offer, frame)

    def _on_frames_lost(self, info: QoSMessageLostInfo) -> None:
        # Large frames over best-effort links lose fragments; DDS tells how many samples.
        self._image_events['frames_lost'] = info.total_count
        self.count_dropped(f'image: {info.total_count_change} frames lost before reaching '
                           'the bridge (the transport dropped them)', info.total_count_change)

    def _on_image_incompatible(self, info: QoSRequestedIncompatibleQoSInfo) -> None:
        self._image_events['image_qos_incompatible'] = info.total_count
        self.loop.call_soon(self.link_error,
                            'image: a publisher offers QoS incompatible with image_reliability '
                            f'({qos_policy_name_from_kind(info.last_policy_kind)}): none of its '
                            'frames arrive; a best-effort camera needs '
                            'image_reliability:=best_effort')

    # -- diagnostics (executor thread) -------------------------------------------------------

    def diagnostic_values(self) -> Iterable[tuple[str, str]]:
        """Per-socket state, counters, exclusive user and both streams."""
        if not hasattr(self, '_counts'):
            return ()
        values = [('discovery', self._discovery), ('owner', self._filter.owner),
                  ('exclusive_user', self._filter.exclusive_user),
                  ('exclusive_mods', str(self._filter.exclusive_mods).lower()),
                  ('moderators', str(len(self._filter.moderators)))]
        sockets = self._sockets
        for name in SOCKETS:
            up = sockets is not None and sockets.up[name]
            values += [(f'socket_{name}', 'up' if up else 'down'),
                       (f'reconnects_{name}', str(sockets.reconnects[name] if sockets else 0)),
                       (f'engineio_protocol_{name}',
                        sockets.protocol(name) if sockets else 'unknown'),
                       (f'server_{name}', sockets.where(name) if sockets else '')]
        if sockets is not None:
            values += [(f'moves_{name}', str(count)) for name, count in sockets.moves.items()]
            values += [('ip_information_sent', str(sockets.ip_information_sent))]
        values += [(key, str(count)) for key, count in self._counts.items()]
        values += [*self._av.diagnostic_values(), ('live', str(self._live).lower())]
        values += [(key, str(count)) for key, count in self._image_events.items()]
        values += self._cmd_vel.diagnostic_values()
        return values


def _image_qos(reliability: str) -> QoSProfile:
    return QoSProfile(depth=IMAGE_DEPTH, history=HistoryPolicy.KEEP_LAST,
                      reliability=IMAGE_RELIABILITY[reliability],
                      durability=DurabilityPolicy.VOLATILE)


def _checked_url(name: str, url: str) -> str:
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ('http', 'https') and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f'{name} {excerpt(redact_url(url))}: expected http(s)://host[:port]')
    return url


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges letsrobot_bridge``."""
    return run_bridge(LetsRobotBridge, args)
