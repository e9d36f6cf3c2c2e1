"""
Node victor_mic_bridge: Victor's dominant sound direction as ROS, with a recording.

Subscribes to the webViz module ``micdata`` (anim process, port 8889) on every (re)connect
and publishes each push as ``mic_direction`` (robot_bridges/msg/MicDirection), and a known
direction also as ``mic_direction/pose`` (geometry_msgs/PoseStamped, yaw = azimuth: an arrow
in rviz). Only development builds of the firmware send micdata: when none arrives within
``micdata_timeout_s`` of subscribing, diagnostics WARN and say so, and the node waits on. Services
``set_recording`` (std_srvs/srv/SetBool) and ``compile_results``
(robot_bridges/srv/CompileMicResults) keep the seed client's record-then-compile semantics.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterable, Sequence

from geometry_msgs.msg import PoseStamped
from robot_bridges.bridges.webviz_bridge import WebVizBridgeBase
from robot_bridges.mic_recording import MicRecording
from robot_bridges.msg import MicDirection
from robot_bridges.node import params
from robot_bridges.node.qos import reliable
from robot_bridges.node.runner import run_bridge
from robot_bridges.protocols import webviz
from robot_bridges.protocols.text import excerpt
from robot_bridges.protocols.webviz import MICDATA, RemoteProtocolError
from robot_bridges.runtime.link import Frame
from robot_bridges.runtime.loop_thread import LoopThread
from robot_bridges.srv import CompileMicResults
from robot_bridges.translate import victor_mic as translate
from std_srvs.srv import SetBool


class VictorMicBridge(WebVizBridgeBase):
    """``mic_direction`` from micdata, plus ``set_recording`` / ``compile_results``."""

    default_port = 8889

    def __init__(self, loop: LoopThread, **kwargs: Any) -> None:
        """Create the node; interfaces and link come with the configure transition."""
        super().__init__('victor_mic_bridge', loop, **kwargs)
        self._recording: MicRecording | None = None
        self._overflow_reported = 0
        self._micdata_timer: asyncio.TimerHandle | None = None
        # Set on the loop thread, read by diagnostics: why micdata is missing, or None.
        self._micdata_missing: str | None = None
        self._micdata_seen = False

    def declare_bridge_parameters(self) -> None:
        """Declare the connection parameters, ``frame_id`` and ``max_samples``."""
        super().declare_bridge_parameters()
        params.declare(self, 'frame_id', 'victor_mic', 'header.frame_id of mic_direction.')
        params.declare(self, 'max_samples', 100_000,
                       'Samples the recording keeps; overflow drops the oldest.',
                       min_value=1, max_value=100_000_000)
        params.declare(self, 'micdata_timeout_s', 5.0,
                       'No micdata this long after subscribing: diagnostics WARN (only '
                       'development builds of the firmware send micdata), seconds.',
                       min_value=0.1, max_value=3600.0)
        self.declare_pacing_parameter('mic_direction')

    def modules(self) -> Sequence[str]:
        """Return the one module this bridge needs."""
        return (MICDATA,)

    def setup(self) -> None:
        """Create the link, the publisher, the recording buffer and the services."""
        self.setup_link()
        self._frame_id = params.get(self, 'frame_id')
        self._micdata_timeout_s = params.get(self, 'micdata_timeout_s')
        self._recording = MicRecording(params.get(self, 'max_samples'))
        self._overflow_reported = 0
        self._publisher = self.make_paced_publisher(
            MicDirection, 'mic_direction', reliable(params.get(self, 'qos_depth')))
        self._pose_publisher = self.make_publisher(
            PoseStamped, 'mic_direction/pose', reliable(params.get(self, 'qos_depth')))
        self.make_service(SetBool, 'set_recording', self._on_set_recording)
        self.make_service(CompileMicResults, 'compile_results', self._on_compile)

    def teardown(self) -> None:
        """Destroy what :meth:`setup` created; an uncompiled recording is discarded."""
        super().teardown()
        self._recording = None

    def diagnostic_values(self) -> Iterable[tuple[str, str]]:
        """Report the recording's state."""
        recording = self._recording
        if recording is None:
            return ()
        return (('recording', str(recording.recording).lower()),
                ('recorded_samples', str(len(recording))),
                ('recording_overflowed', str(recording.overflowed)),
                ('micdata_seen', str(self._micdata_seen).lower()),
                *super().diagnostic_values())

    def diagnostic_warning(self) -> str | None:
        """Say so while the robot sends no micdata (a production build)."""
        return self._micdata_missing

    # -- asyncio thread: link ------------------------------------------------------------

    def link_up(self) -> None:
        """Announce the link and start waiting for the first micdata."""
        super().link_up()
        self._micdata_seen = False
        self._micdata_missing = None
        self._cancel_micdata_timer()
        self._micdata_timer = asyncio.get_running_loop().call_later(
            self._micdata_timeout_s, self._no_micdata)

    def link_down(self, reason: str) -> None:
        """Announce the loss of the link; a missing micdata is no longer the news."""
        self._cancel_micdata_timer()
        self._micdata_missing = None
        super().link_down(reason)

    def _cancel_micdata_timer(self) -> None:
        if self._micdata_timer is not None:
            self._micdata_timer.cancel()
            self._micdata_timer = None

    def _no_micdata(self) -> None:
        self._micdata_timer = None
        if self._micdata_seen or not self.stats.connected:
            return
        self._micdata_missing = (
            f'no micdata {self._micdata_timeout_s:g} s after subscribing: the robot sends '
            'micdata only on development builds of its firmware (a production robot '
            'accepts the subscription and stays silent); still waiting')
        self.get_logger().warning(self._micdata_missing)

    # -- asyncio thread: hot path --------------------------------------------------------

    def link_frame(self, frame: Frame) -> None:
        """Publish one micdata push; record it while recording is on."""
        event = self.receive_push(frame)
        if event is None:
            return
        if event.module != MICDATA:
            self.count_bad_input(
                f'unexpected module: a push of {excerpt(event.module)}, not micdata')
            return
        try:
            sample = webviz.parse_micdata(event.data)
        except RemoteProtocolError as exc:
            self.count_bad_input(f'bad micdata: {exc}')
            return
        self.stats.messages_in += 1
        if not self._micdata_seen:
            self._micdata_seen = True
            if self._micdata_missing is not None:
                self._micdata_missing = None
                self.get_logger().info('micdata arrives')
        stamp = self.get_clock().now().to_msg()
        self._publisher.publish(translate.to_message(sample, stamp, self._frame_id))
        pose = self._pose_publisher
        if sample.direction < webviz.DIRECTION_COUNT and pose.get_subscription_count():
            pose.publish(translate.to_pose(sample.direction, stamp, self._frame_id))
        recording = self._recording
        if recording is not None and recording.recording:
            if not recording.append(sample.direction, sample.confidence):
                self.get_logger().warning(
                    f'recording full (max_samples {recording.max_samples}): dropping the '
                    f'oldest samples ({recording.overflowed} so far)', throttle_duration_sec=5.0)

    # -- executor thread -----------------------------------------------------------------

    def _on_set_recording(self, request: SetBool.Request,
                          response: SetBool.Response) -> SetBool.Response:
        recording = self._recording
        assert recording is not None
        recording.recording = bool(request.data)
        response.success = True
        state = 'recording' if request.data else 'not recording'
        response.message = f'{state}; {len(recording)} samples buffered'
        self.get_logger().info(response.message)
        return response

    def _on_compile(self, request: CompileMicResults.Request,
                    response: CompileMicResults.Response) -> CompileMicResults.Response:
        recording = self._recording
        assert recording is not None
        summary, total = recording.compile_results()
        overflowed = recording.overflowed
        lost = overflowed - self._overflow_reported
        self._overflow_reported = overflowed
        note = f'; {lost} older samples were dropped (max_samples)' if lost else ''
        if summary is None:
            response.success = False
            response.message = (f'no sample with a known direction (0..11) to compile: '
                                f'{total} samples recorded{note}')
        else:
            response.success = True
            response.final_dominant = summary.direction
            response.final_confidence = summary.confidence
            response.samples = summary.samples
            response.message = (f'direction {summary.direction} in {summary.votes} of '
                                f'{summary.samples} valid samples, mean confidence '
                                f'{summary.confidence:.3f} ({total} samples recorded{note})')
        self.get_logger().info(f'compiled: {response.message}')
        return response


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges victor_mic_bridge``."""
    return run_bridge(VictorMicBridge, args)
