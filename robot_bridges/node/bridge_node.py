"""
The lifecycle base of every bridge node.

* configure: reads and validates parameters, creates the node's ROS interfaces and its
  transport (:meth:`BridgeNode.setup`); invalid parameters fail the transition.
* activate: starts the transport on the asyncio loop; traffic flows.
* deactivate: closes the transport cleanly (close handshake); traffic stops.
* cleanup: destroys what configure created (:meth:`BridgeNode.teardown`).

Every bridge publishes ``~/connected`` (std_msgs/Bool, transient-local: the truth of its own
link) on each change, and the same on the namespace's ``connected`` unless the bridge leaves
that topic to another node of its namespace (:attr:`BridgeNode.NAMESPACE_CONNECTED`), and a
DiagnosticArray on ``/diagnostics`` at 1 Hz. The node is the transport's
:class:`~robot_bridges.runtime.link.LinkListener`; its link callbacks run on the asyncio
thread and publish from there (rcl publish is thread-safe).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import time
from typing import Any, Callable, Iterable, Sequence

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.exceptions import InvalidHandle
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.lifecycle import LifecyclePublisher, State, TransitionCallbackReturn
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.publisher import Publisher
from rclpy.qos import QoSProfile
from rclpy.service import Service
from robot_bridges.node import params
from robot_bridges.node.diagnostics import LinkStats, to_status
from robot_bridges.node.loop_subscription import LoopSubscription
from robot_bridges.node.paced_publisher import PacedPublisher
from robot_bridges.node.qos import LATCHED
from robot_bridges.protocols.text import cut
from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.loop_thread import LoopThread
from robot_bridges.runtime.redact import describe_exception, redact
from std_msgs.msg import Bool

# Bounds of the clean close (SIGINT/SIGTERM must end a node within 2 s).
STOP_TIMEOUT_S = 1.2
CLOSE_TIMEOUT_S = 0.8


class BridgeNode(LifecycleNode):
    """Subclasses implement the hooks below; everything else is shared."""

    #: What follows a lost link, in the log line that reports it (a server waits instead).
    AFTER_LINK_DOWN = 'reconnecting'
    #: Whether the node also writes the namespace-level ``connected``: one writer per
    #: latched topic, or a late subscriber sees whichever node wrote last.
    NAMESPACE_CONNECTED = True
    #: The node's namespace unless it is given one.
    DEFAULT_NAMESPACE = ''
    #: What the node needs of ``sys.setswitchinterval`` (None: Python's default, 5 ms); the
    #: runner sets the shortest of its nodes'.
    GIL_SWITCH_INTERVAL_S: float | None = None

    def __init__(self, node_name: str, loop: LoopThread, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.loop = loop
        self.stats = LinkStats()
        # Set by setup() (passwords, tokens, stream keys): removed from every log line and
        # diagnostic value this node writes.
        self.secrets: tuple[str, ...] = ()
        self._lifecycle_state = 'unconfigured'
        self._ever_connected = False
        self._link_task: asyncio.Task[None] | None = None
        # True from the moment we close the link until it runs again: no reconnect follows.
        self._link_stopping = False
        self._entities: list[Any] = []
        self._pacers: list[tuple[str, PacedPublisher]] = []
        self._last_warning: dict[str, float] = {}
        try:
            self._declare_parameters()
        except BaseException:
            # A bad value: the half-made node must leave the graph at once (in a container
            # the other bridges run on, and nothing may answer under this node's name).
            self.destroy_node()
            raise
        self._connected_pubs = [self.create_publisher(Bool, '~/connected', LATCHED)]
        if self.NAMESPACE_CONNECTED:
            self._connected_pubs.append(self.create_publisher(Bool, 'connected', LATCHED))
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diagnostics_timer = self.create_timer(1.0, self.publish_diagnostics)
        for publisher in self._connected_pubs:
            publisher.publish(Bool(data=False))

    def destroy_node(self) -> None:
        """
        Destroy the node, and its lifecycle state machine with it.

        rclpy leaves the state machine to the garbage collector, and while it lives the node
        stays in the graph: in a container, a node that failed or was removed would still
        be listed, though nothing answers for it.
        """
        super().destroy_node()
        state_machine = getattr(self, '_state_machine', None)
        if state_machine is not None:
            state_machine.destroy_when_not_in_use()

    def _declare_parameters(self) -> None:
        params.declare(self, 'autostart', True,
                       'Configure and activate by itself when started plainly.',
                       takes_effect='at start')
        params.declare(self, 'reconnect_min_s', 0.5,
                       'Shortest delay before reconnecting, seconds.',
                       min_value=0.01, max_value=60.0)
        params.declare(self, 'reconnect_max_s', 10.0,
                       'Longest delay between reconnection attempts, seconds.',
                       min_value=0.01, max_value=600.0)
        self.declare_link_parameters()
        self.declare_bridge_parameters()

    # -- hooks for subclasses ------------------------------------------------------------

    def declare_link_parameters(self) -> None:
        """Declare the parameters every bridge of one transport kind has (before the bridge's)."""

    def declare_bridge_parameters(self) -> None:
        """Declare the bridge's own parameters (use :func:`robot_bridges.node.params.declare`)."""

    def setup(self) -> None:
        """
        Read parameters, create publishers/subscriptions/services and the transport.

        Raise ``ValueError`` with a clear message for an invalid parameter.
        """
        raise NotImplementedError

    def teardown(self) -> None:
        """
        Destroy what :meth:`setup` created; must work after a setup that failed halfway.

        The base destroys every entity made with make_publisher/make_subscription/
        make_service; subclasses that keep more extend it and call ``super().teardown()``.
        """
        pacers, self._pacers = self._pacers, []
        if pacers and self.context.ok():
            self.loop.call_soon(self._clear_pacers, pacers, 'cleanup')
        entities, self._entities = self._entities, []
        for entity in reversed(entities):
            if isinstance(entity, LifecyclePublisher):
                self.destroy_lifecycle_publisher(entity)
            elif isinstance(entity, Service):
                self.destroy_service(entity)
            else:
                self.destroy_subscription(entity)

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

    def diagnostic_warning(self) -> str | None:
        """Why a connected bridge is not doing its job (diagnostics WARN), or None."""
        return None

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
        Count a frame or message that could not be used, and say why. Any thread.

        ``what`` reads 'kind: detail'; one line per kind per second at most, the counter
        in diagnostics counts them all. Peer-controlled parts of ``what`` should already be
        excerpts (:func:`robot_bridges.protocols.text.excerpt`); the line is cut regardless.
        """
        self._on_loop(self._count_bad_input, cut(what))

    def count_dropped(self, what: str, count: int = 1) -> None:
        """Count messages that were dropped, and say why (throttled likewise). Any thread."""
        self._on_loop(self._count_dropped, cut(what), count)

    def _count_bad_input(self, what: str) -> None:
        if not self.context.ok():
            return  # shutting down: a publish that failed because of it is nobody's input
        self.stats.decode_errors += 1
        self.stats.last_error = redact(what, self.secrets)
        self._warn_throttled(what, f'(decode errors: {self.stats.decode_errors})')

    def _count_dropped(self, what: str, count: int) -> None:
        self.stats.dropped += count
        self._warn_throttled(what, f'(dropped: {self.stats.dropped})')

    def _on_loop(self, callback: Callable[..., None], *args: Any) -> None:
        # The counters have a single writer, the loop thread: no lock, no lost update.
        if self.loop.in_loop_thread():
            callback(*args)
        else:
            self.loop.call_soon(callback, *args)

    def _warn_throttled(self, what: str, counter: str) -> None:
        kind = what.partition(':')[0]
        now = time.monotonic()
        if now - self._last_warning.get(kind, -1e9) >= 1.0:
            self._last_warning[kind] = now
            self.get_logger().warning(f'{redact(what, self.secrets)} {counter}')

    def make_publisher(self, msg_type: Any, topic: str, qos: QoSProfile) -> Any:
        """Create a lifecycle publisher that :meth:`teardown` destroys."""
        publisher = self.create_lifecycle_publisher(msg_type, topic, qos)
        self._entities.append(publisher)
        return publisher

    def declare_pacing_parameter(self, topics: str) -> None:
        """Declare ``max_publish_rate`` for a bridge whose ``topics`` carry bursts."""
        params.declare(self, 'max_publish_rate', 0.0,
                       f'Most messages per second published on {topics}; 0 = no limit. Set it '
                       'just below what the slowest subscriber takes (README, High-rate '
                       'topics): below it nothing waits; above it messages wait in order, at '
                       'most qos_depth of them (the oldest is dropped and counted).',
                       min_value=0.0, max_value=1e6, apply=self._apply_publish_rate)

    def _apply_publish_rate(self, rate: float) -> None:
        # Executor thread (a parameter change); the pacers are the loop's.
        pacers = [pacer for _, pacer in self._pacers]
        if pacers:
            self.loop.call_soon(lambda: [pacer.set_rate(rate) for pacer in pacers])

    def make_paced_publisher(self, msg_type: Any, topic: str, qos: QoSProfile) -> Any:
        """
        Return a publisher (``publish`` on the loop thread) paced to ``max_publish_rate``.

        Without a rate its ``publish`` is the plain lifecycle publisher's, so the hot path is
        unchanged; a rate set at run time takes effect at the next message.
        """
        publisher = self.make_publisher(msg_type, topic, qos)

        def publish(msg: Any) -> None:
            # Also a timer callback of the loop: nothing may raise out of it.
            try:
                if not publisher.is_activated:  # deactivated while it waited
                    self._count_dropped(f'not active: dropped a message waiting for {topic}', 1)
                elif not self.publish_unless_shut_down(publisher, msg):
                    pacer.clear()
            except Exception as exc:  # noqa: B902 - counted like a failed hot-path publish
                self._count_bad_input(f'publish failed on {topic}: {describe_exception(exc)}')

        def dropped(count: int) -> None:  # loop thread; logged by overflowing()
            self.stats.dropped += count

        dropped_before = 0

        def overflowing(started: bool) -> None:  # loop thread
            nonlocal dropped_before
            if started:
                self.get_logger().warning(
                    f'max_publish_rate: {topic} receives more than {pacer.rate:g} msg/s: the '
                    f'oldest of {qos.depth} waiting messages is dropped for each new one '
                    f'(counted in dropped; paced_overflow in diagnostics)')
                dropped_before = self.stats.dropped - 1
            else:
                count = self.stats.dropped - dropped_before
                if not self.context.ok():
                    return  # shutting down: nobody to tell, and /rosout is gone
                self.get_logger().info(f'max_publish_rate: {topic} no longer overflows; '
                                       f'{count} message(s) were dropped')

        pacer = PacedPublisher(publish, params.get(self, 'max_publish_rate'), qos.depth,
                               self.loop.loop, dropped, direct=publisher.publish,
                               overflowing=overflowing)
        self._pacers.append((topic, pacer))
        return pacer

    def _clear_pacers(self, pacers: list[tuple[str, PacedPublisher]], why: str) -> None:
        # On the loop thread: the pacers' queues are its alone.
        for topic, pacer in pacers:
            waiting = pacer.clear()
            if waiting:
                self._count_dropped(f'{why}: dropped {waiting} message(s) waiting for {topic} '
                                    f'(max_publish_rate)', waiting)

    def make_subscription(self, msg_type: Any, topic: str, callback: Callable[[Any], None],
                          qos: QoSProfile, **kwargs: Any) -> Any:
        """
        Create a subscription that :meth:`teardown` destroys.

        An exception from ``callback`` (whatever the message held) is counted as bad input
        and logged; it never reaches the executor.
        """
        def guarded(msg: Any) -> None:
            try:
                callback(msg)
            except Exception as exc:  # noqa: B902 - user input must not end the executor
                self.count_bad_input(f'rejected a message on {topic}: {describe_exception(exc)}')
        subscription = self.create_subscription(msg_type, topic, guarded, qos, **kwargs)
        self._entities.append(subscription)
        return subscription

    def make_loop_subscription(self, msg_type: Any, topic: str, callback: Callable[[Any], None],
                               qos: QoSProfile, limit: int) -> LoopSubscription:
        """
        Create a subscription whose messages the loop takes (:meth:`LoopSubscription.take`).

        ``callback`` runs on the loop thread; an exception from it is counted as bad input
        like :meth:`make_subscription`'s. :meth:`teardown` destroys the subscription.
        """
        def guarded(msg: Any) -> None:
            try:
                callback(msg)
            except Exception as exc:  # noqa: B902 - user input must not end the loop
                self.count_bad_input(f'rejected a message on {topic}: {describe_exception(exc)}')
        taken = LoopSubscription(self, self.loop, msg_type, topic, guarded, qos, limit)
        self._entities.append(taken.subscription)
        return taken

    def make_service(self, srv_type: Any, name: str, callback: Callable[[Any, Any], Any],
                     **kwargs: Any) -> Any:
        """
        Create a service that :meth:`teardown` destroys.

        An exception from ``callback`` is counted and logged, and the caller gets the
        response with ``success`` false and the reason in ``message`` (where it has them).
        ``callback`` may be a coroutine function: the executor runs it as a task, so it can
        await an rclpy Future that the loop completes (:meth:`LoopThread.to_executor`)
        while other callbacks keep running.
        """
        def rejected(exc: Exception, response: Any) -> Any:
            reason = cut(f'rejected a request on {name}: {describe_exception(exc)}')
            self.count_bad_input(reason)
            if hasattr(response, 'success'):
                response.success = False
            if hasattr(response, 'message'):
                response.message = redact(reason, self.secrets)
            return response

        def guarded(request: Any, response: Any) -> Any:
            try:
                return callback(request, response)
            except Exception as exc:  # noqa: B902 - user input must not end the executor
                return rejected(exc, response)

        async def guarded_async(request: Any, response: Any) -> Any:
            try:
                return await callback(request, response)
            except Exception as exc:  # noqa: B902 - user input must not end the executor
                return rejected(exc, response)
        handler = guarded_async if inspect.iscoroutinefunction(callback) else guarded
        service = self.create_service(srv_type, name, handler, **kwargs)
        self._entities.append(service)
        return service

    @property
    def is_active(self) -> bool:
        """Whether the node is in the lifecycle state 'active'."""
        return self._lifecycle_state == 'active'

    def publish_diagnostics(self) -> None:
        """Publish the node's DiagnosticArray (1 Hz timer; also callable on demand)."""
        stats = self.stats
        values = tuple(self.diagnostic_values())
        pacers = [pacer for _, pacer in self._pacers]
        if pacers:  # len() of a deque is safe from this thread
            values += (('paced_waiting', str(sum(len(pacer) for pacer in pacers))),
                       ('paced_overflow', str(any(p.overflowing for p in pacers)).lower()))
        status = to_status(self.get_fully_qualified_name(), self.hardware_id(),
                           self._lifecycle_state, stats, values, self.diagnostic_warning())
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
        if self._publish_connected(True):
            self.get_logger().info(f'connected to {self.hardware_id()}')

    def link_down(self, reason: str) -> None:
        """Record and announce the loss of the connection."""
        reason = cut(redact(reason, self.secrets))
        self.stats.connected = False
        self.stats.last_error = reason
        if not self._publish_connected(False):
            return
        if self.is_active and not self._link_stopping:
            self._warn_throttled(f'disconnected from {self.hardware_id()}: {reason}',
                                 f'({self.AFTER_LINK_DOWN}; reconnects so far: '
                                 f'{self.stats.reconnects})')
        else:
            self.get_logger().info(f'disconnected from {self.hardware_id()}: {reason}')

    def _publish_connected(self, connected: bool) -> bool:
        msg = Bool(data=connected)
        published = True
        for publisher in self._connected_pubs:  # every one, even after a refusal
            published = self.publish_unless_shut_down(publisher, msg) and published
        return published

    def publish_unless_shut_down(self, publisher: Publisher, msg: Any) -> bool:
        """
        Publish ``msg`` from the loop thread; False, with nothing sent, once shutdown began.

        A signal shuts the context down from the main thread, and the runner destroys the
        node, while the loop thread may still be reporting a link's end: either can come
        between a check and the publish, so the publish itself says. For the link reports and
        paced publishers, not the plain hot path (there a failed publish is counted as bad
        input).
        """
        if not self.context.ok():
            return False
        try:
            publisher.publish(msg)
        except InvalidHandle:
            return False  # the publisher or the node was destroyed
        except rclpy_implementation.RCLError:
            if self.context.ok():
                raise
            return False  # "publisher's context is invalid"
        return True

    def link_aborted(self, reason: str) -> None:
        """
        Count a link the transport aborted (dead peer, write buffer over its bound).

        The transport then reports :meth:`link_down` and redials with backoff.
        """
        self.stats.link_aborts += 1
        self._warn_throttled(f'link aborted: {redact(reason, self.secrets)}',
                             f'(aborts: {self.stats.link_aborts})')

    def link_sent(self, count: int) -> None:
        """Count frames handed to the socket."""
        self.stats.messages_out += count

    def link_bad_frame(self, what: str) -> None:
        """Count a frame the transport rejected."""
        self.count_bad_input(what)

    def link_error(self, what: str) -> None:
        """Record a failure the transport survived (throttled log)."""
        self.stats.last_error = cut(redact(what, self.secrets))
        self.get_logger().warning(self.stats.last_error, throttle_duration_sec=5.0)

    # -- lifecycle -----------------------------------------------------------------------

    def autostart(self) -> bool:
        """
        Configure and activate if parameter ``autostart`` is true.

        Returns False when that failed (the reason was logged): the caller should exit
        non-zero so that a launch respawn or a supervisor can act.
        """
        if not params.get(self, 'autostart'):
            return True
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            return False
        return self.trigger_activate() == TransitionCallbackReturn.SUCCESS

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self.setup()
        except Exception as exc:  # noqa: B902 - rclpy would swallow it without a word
            detail = str(exc) if isinstance(exc, ValueError) else describe_exception(exc)
            # Diagnostics say ERROR with the reason until a configure succeeds.
            self.stats.failed = True
            self.stats.last_error = cut(f'configure failed: {redact(detail, self.secrets)}')
            self.get_logger().error(self.stats.last_error)
            self._teardown_quietly()
            return TransitionCallbackReturn.FAILURE
        self.stats.failed = False
        self._lifecycle_state = 'inactive'
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        self._lifecycle_state = 'active'
        self.stats.failed = False
        self.loop.call_soon(self._start_link)
        return result

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        result = super().on_deactivate(state)  # publishers off first: nothing leaks out
        self._lifecycle_state = 'inactive'
        self.stop_link()
        return result

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self.teardown()
        self._lifecycle_state = 'unconfigured'
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self.stop_link()
        self._teardown_quietly()
        self._lifecycle_state = 'finalized'
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: State) -> TransitionCallbackReturn:
        self.stop_link()
        self._teardown_quietly()
        self._lifecycle_state = 'unconfigured'
        return TransitionCallbackReturn.SUCCESS

    def stop_link(self) -> None:
        """
        Close the transport and wait for it, at most STOP_TIMEOUT_S.

        This is the one place the executor thread waits on the asyncio loop: a lifecycle
        transition is synchronous, and 'deactivate' promises a clean close. Everything the
        link task does has finished (or was cancelled) when this returns.
        """
        stop_links([self])

    def _start_link(self) -> None:
        self._link_stopping = False
        self._link_task = asyncio.ensure_future(self._run_link_reporting_crashes())

    async def _stop_link(self) -> None:
        task, self._link_task = self._link_task, None
        if task is None:
            return
        self._link_stopping = True
        try:
            await asyncio.wait_for(self.close_link(), CLOSE_TIMEOUT_S)
        except Exception as exc:  # noqa: B902 - a failed close must not fail the transition
            self.get_logger().warning(f'closing the link failed: {describe_exception(exc)}')
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_TIMEOUT_S - CLOSE_TIMEOUT_S)
        # The link has ended: no frame queues behind this, none waits for a later activate.
        self._clear_pacers(self._pacers, 'link stopped')
        if self.stats.connected:
            self.link_down('closed')

    def _teardown_quietly(self) -> None:
        try:
            self.teardown()
        except Exception as exc:  # noqa: B902 - best effort on the error path
            self.get_logger().warning(f'teardown failed: {describe_exception(exc)}')

    async def _run_link_reporting_crashes(self) -> None:
        try:
            await self.run_link()
        except Exception as exc:  # noqa: B902 - report, the executor must keep running
            if not self.context.ok():
                return  # a publish refused during shutdown: nothing went wrong
            # A transport never raises on network errors; this is a bug or a broken
            # environment. Diagnostics turn ERROR; deactivate/activate starts it afresh.
            self.stats.failed = True
            self.stats.last_error = redact(f'link task failed: {describe_exception(exc)}',
                                           self.secrets)
            self.get_logger().error(self.stats.last_error)


def stop_links(nodes: Sequence[BridgeNode]) -> None:
    """
    Close the transports of ``nodes`` together and wait for them, at most STOP_TIMEOUT_S.

    Together, not one after the other: a container's nodes must all have stopped within
    the 2 s a signalled stop is given, however many of them there are.
    """
    closing = [(node, node.loop.submit(node._stop_link())) for node in nodes]  # noqa: SLF001
    concurrent.futures.wait([future for _, future in closing], STOP_TIMEOUT_S)
    for node, future in closing:
        if not future.done() or future.cancelled():
            future.cancel()
            node.get_logger().warning('the link did not stop in time; it was cancelled')
        elif future.exception() is not None:
            node.get_logger().warning(
                f'stopping the link failed: {describe_exception(future.exception())}')
