"""
The lifecycle base of every bridge node.

* configure: reads and validates parameters, creates the node's ROS interfaces and its
  transport (:meth:`BridgeNode.setup`); invalid parameters fail the transition.
* activate: starts the transport on the asyncio loop; traffic flows.
* deactivate: closes the transport cleanly (close handshake); traffic stops.
* cleanup: destroys what configure created (:meth:`BridgeNode.teardown`).

Every bridge publishes ``connected`` (std_msgs/Bool, transient-local) on each change and a
DiagnosticArray on ``/diagnostics`` at 1 Hz. The node is the transport's
:class:`~robot_bridges.runtime.link.LinkListener`; its link callbacks run on the asyncio
thread and publish from there (rcl publish is thread-safe).
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any, Iterable

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import State, TransitionCallbackReturn
from robot_bridges.node import params
from robot_bridges.node.diagnostics import LinkStats, to_status
from robot_bridges.node.qos import LATCHED
from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.loop_thread import LoopThread
from robot_bridges.runtime.redact import describe_exception, redact
from std_msgs.msg import Bool

STOP_TIMEOUT_S = 1.5


class BridgeNode(LifecycleNode):
    """Subclasses implement the hooks below; everything else is shared."""

    def __init__(self, node_name: str, loop: LoopThread, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.loop = loop
        self.stats = LinkStats()
        self.secrets: tuple[str, ...] = ()
        self._lifecycle_state = 'unconfigured'
        self._ever_connected = False
        self._link_task: concurrent.futures.Future[None] | None = None
        self._last_warning: dict[str, float] = {}
        params.declare(self, 'autostart', True,
                       'Configure and activate by itself when started plainly.', read_only=True)
        params.declare(self, 'reconnect_min_s', 0.5,
                       'Shortest delay before reconnecting, seconds.',
                       min_value=0.01, max_value=60.0)
        params.declare(self, 'reconnect_max_s', 10.0,
                       'Longest delay between reconnection attempts, seconds.',
                       min_value=0.01, max_value=600.0)
        self.declare_bridge_parameters()
        self._connected_pub = self.create_publisher(Bool, 'connected', LATCHED)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diagnostics_timer = self.create_timer(1.0, self.publish_diagnostics)
        self._connected_pub.publish(Bool(data=False))

    # -- hooks for subclasses ------------------------------------------------------------

    def declare_bridge_parameters(self) -> None:
        """Declare the bridge's own parameters (use :func:`robot_bridges.node.params.declare`)."""

    def setup(self) -> None:
        """
        Read parameters, create publishers/subscriptions/services and the transport.

        Raise ``ValueError`` with a clear message for an invalid parameter.
        """
        raise NotImplementedError

    def teardown(self) -> None:
        """Destroy what :meth:`setup` created."""
        raise NotImplementedError

    async def run_link(self) -> None:
        """Run the transport until closed or cancelled (on the asyncio loop)."""
        raise NotImplementedError

    async def close_link(self) -> None:
        """Close the transport cleanly (on the asyncio loop)."""
        raise NotImplementedError

    def hardware_id(self) -> str:
        """Where the service is, without secrets (shown in diagnostics)."""
        return ''

    def diagnostic_values(self) -> Iterable[tuple[str, str]]:
        """Extra key/values for diagnostics."""
        return ()

    # -- shared helpers ------------------------------------------------------------------

    def backoff(self) -> Backoff:
        """Return the reconnection policy from ``reconnect_min_s`` / ``reconnect_max_s``."""
        low = params.get(self, 'reconnect_min_s')
        high = params.get(self, 'reconnect_max_s')
        if low > high:
            raise ValueError(f'reconnect_min_s ({low}) must not exceed reconnect_max_s ({high})')
        return Backoff(min_s=low, max_s=high)

    def count_bad_input(self, what: str) -> None:
        """
        Count a frame or message that could not be used, and say why.

        ``what`` reads 'kind: detail'; one line per kind per second at most, the counter
        in diagnostics counts them all.
        """
        self.stats.decode_errors += 1
        self.stats.last_error = what
        self._warn_throttled(what, f'(decode errors: {self.stats.decode_errors})')

    def count_dropped(self, what: str, count: int = 1) -> None:
        """Count messages that were dropped, and say why (throttled like count_bad_input)."""
        self.stats.dropped += count
        self._warn_throttled(what, f'(dropped: {self.stats.dropped})')

    def _warn_throttled(self, what: str, counter: str) -> None:
        kind = what.partition(':')[0]
        now = time.monotonic()
        if now - self._last_warning.get(kind, -1e9) >= 1.0:
            self._last_warning[kind] = now
            self.get_logger().warning(f'{redact(what, self.secrets)} {counter}')

    @property
    def is_active(self) -> bool:
        """Whether the node is in the lifecycle state 'active'."""
        return self._lifecycle_state == 'active'

    def publish_diagnostics(self) -> None:
        """Publish the node's DiagnosticArray (1 Hz timer; also callable on demand)."""
        stats = self.stats
        stats.last_error = redact(stats.last_error, self.secrets)
        status = to_status(self.get_fully_qualified_name(), self.hardware_id(),
                           self._lifecycle_state, stats, self.diagnostic_values())
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)

    # -- LinkListener (asyncio thread) ---------------------------------------------------

    def link_up(self) -> None:
        """Record and announce the connection."""
        if self._ever_connected:
            self.stats.reconnects += 1
        self._ever_connected = True
        self.stats.connected = True
        self._connected_pub.publish(Bool(data=True))
        self.get_logger().info(f'connected to {self.hardware_id()}')

    def link_down(self, reason: str) -> None:
        """Record and announce the loss of the connection."""
        self.stats.connected = False
        self.stats.last_error = redact(reason, self.secrets)
        if not self.context.ok():
            return  # shutting down after a signal: nothing can be published any more
        self._connected_pub.publish(Bool(data=False))
        if self.is_active:
            self.get_logger().warning(
                f'disconnected from {self.hardware_id()}: {self.stats.last_error}; reconnecting')

    def link_sent(self, count: int) -> None:
        """Count frames handed to the socket."""
        self.stats.messages_out += count

    def link_bad_frame(self, what: str) -> None:
        """Count a frame the transport rejected."""
        self.count_bad_input(what)

    def link_error(self, what: str) -> None:
        """Record a failure the transport survived (throttled log)."""
        self.stats.last_error = redact(what, self.secrets)
        self.get_logger().warning(self.stats.last_error, throttle_duration_sec=5.0)

    # -- lifecycle -----------------------------------------------------------------------

    def autostart(self) -> None:
        """Configure and activate if parameter ``autostart`` is true."""
        if params.get(self, 'autostart'):
            if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                self.trigger_activate()

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self.setup()
        except ValueError as exc:
            self.get_logger().error(f'configure failed: {redact(str(exc), self.secrets)}')
            return TransitionCallbackReturn.FAILURE
        self._lifecycle_state = 'inactive'
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        self._lifecycle_state = 'active'
        self._link_task = self.loop.submit(self._run_link_reporting_crashes())
        return result

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._lifecycle_state = 'inactive'
        self.stop_link()
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self.teardown()
        self._lifecycle_state = 'unconfigured'
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self.stop_link()
        self._lifecycle_state = 'finalized'
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: State) -> TransitionCallbackReturn:
        self.stop_link()
        self._lifecycle_state = 'unconfigured'
        return TransitionCallbackReturn.SUCCESS

    def stop_link(self) -> None:
        """Close the transport and wait (bounded) for the close handshake."""
        task, self._link_task = self._link_task, None
        if task is None:
            return

        async def close_then_cancel() -> None:
            try:
                await self.close_link()
            finally:
                task.cancel()

        try:
            self.loop.submit(close_then_cancel()).result(STOP_TIMEOUT_S)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            task.cancel()
        except Exception as exc:  # noqa: B902 - a failed close must not fail shutdown
            self.get_logger().warning(f'closing the link failed: {describe_exception(exc)}')
        if self.stats.connected:
            self.link_down('closed')

    async def _run_link_reporting_crashes(self) -> None:
        try:
            await self.run_link()
        except Exception as exc:  # noqa: B902 - report, the executor must keep running
            self.stats.last_error = redact(describe_exception(exc), self.secrets)
            self.get_logger().error(f'link task failed: {self.stats.last_error}')
            raise
