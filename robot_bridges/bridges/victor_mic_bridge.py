"""
Node victor_mic_bridge: Victor's dominant sound direction as ROS, with a recording.

Subscribes to the webViz module ``micdata`` (anim process, port 8889) on every (re)connect
and publishes each push as ``mic_direction`` (robot_bridges/msg/MicDirection). Services
``set_recording`` (std_srvs/srv/SetBool) and ``compile_results``
(robot_bridges/srv/CompileMicResults) keep the seed client's record-then-compile semantics.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

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

    def declare_bridge_parameters(self) -> None:
        """Declare the connection parameters, ``frame_id`` and ``max_samples``."""
        super().declare_bridge_parameters()
        params.declare(self, 'frame_id', 'victor_mic', 'header.frame_id of mic_direction.')
        params.declare(self, 'max_samples', 100_000,
                       'Samples the recording keeps; overflow drops the oldest.',
                       min_value=1, max_value=100_000_000)
        self.declare_pacing_parameter('mic_direction')

    def modules(self) -> Sequence[str]:
        """Return the one module this bridge needs."""
        return (MICDATA,)

    def setup(self) -> None:
        """Create the link, the publisher, the recording buffer and the services."""
        self.setup_link()
        self._frame_id = params.get(self, 'frame_id')
        self._recording = MicRecording(params.get(self, 'max_samples'))
        self._overflow_reported = 0
        self._publisher = self.make_paced_publisher(
            MicDirection, 'mic_direction', reliable(params.get(self, 'qos_depth')))
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
                ('recording_overflowed', str(recording.overflowed)))

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
        self._publisher.publish(
            translate.to_message(sample, self.get_clock().now().to_msg(), self._frame_id))
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
