"""
Node webviz_bridge: any Victor webViz modules as JSON string topics.

For each module in parameter ``modules`` it publishes ``webviz/<module>`` (the data of every
push, as compact JSON) and forwards ``webviz/<module>/request`` to the robot as
``{"type": "data", "module": <module>, "data": <request>}`` once it has the shape the
firmware's handler accepts (a request that could crash the robot's engine is refused).
It writes only its own ``~/connected``: ``/victor/connected`` is victor_mic_bridge's.

:class:`WebVizBridgeBase` is what every webViz bridge shares (the Victor mic bridge too): the
connection parameters, one websocket that re-subscribes its modules on every (re)connect and
sends the protocol's keepalive (the robot never answers a websocket ping).
"""

from __future__ import annotations

from functools import partial
import re
from typing import Any, Iterable, Sequence

from rclpy.lifecycle import LifecyclePublisher
from robot_bridges.node import params
from robot_bridges.node.qos import reliable
from robot_bridges.node.runner import run_bridge
from robot_bridges.node.websocket_bridge import WebSocketBridge
from robot_bridges.protocols import webviz
from robot_bridges.protocols.text import excerpt
from robot_bridges.protocols.webviz import LocalProtocolError, Push, RemoteProtocolError
from robot_bridges.runtime.link import Frame
from robot_bridges.runtime.loop_thread import LoopThread
from std_msgs.msg import String

DEFAULT_MODULES = ['behaviors', 'intents', 'observedobjects', 'vision']
# Module names become topic names, and the robot matches them exactly, lower case.
_MODULE_NAME = re.compile(r'[a-z][a-z0-9_]*')


class WebVizBridgeBase(WebSocketBridge):
    """One websocket to a webViz server that subscribes :meth:`modules` on every connect."""

    #: Port 8888 is the robot's engine process, 8889 its anim process (micdata, animations).
    default_port = 8888
    DEFAULT_NAMESPACE = 'victor'

    def __init__(self, node_name: str, loop: LoopThread, **kwargs: Any) -> None:
        """Create the node in namespace ``victor`` unless told otherwise."""
        kwargs.setdefault('namespace', self.DEFAULT_NAMESPACE)
        super().__init__(node_name, loop, **kwargs)

    def declare_bridge_parameters(self) -> None:
        """Declare the connection parameters every webViz bridge has."""
        params.declare(self, 'host', '127.0.0.1', "The robot's address.")
        params.declare(self, 'port', self.default_port,
                       'webViz port: 8888 engine modules, 8889 micdata and animations.',
                       min_value=1, max_value=65535)
        params.declare(self, 'path', '/socket', 'URL path of the webViz websocket.')
        params.declare(self, 'max_message_bytes', 1 << 20,
                       'Largest frame accepted; a larger one closes and reopens the link.',
                       min_value=1024, max_value=1 << 30)
        params.declare(self, 'qos_depth', 100, 'History depth of the published topics.',
                       min_value=1, max_value=1_000_000)
        params.declare(self, 'keepalive_interval_s', 10.0,
                       'Send {"keepalive": true} this often, seconds (0 = never). The robot '
                       'answers it but never a websocket ping, and closes a client silent '
                       'for an hour: without it a quiet link is redialled every '
                       'ping_interval_s + ping_timeout_s.', min_value=0.0, max_value=3600.0)

    def modules(self) -> Sequence[str]:
        """Return the modules to subscribe on every (re)connect."""
        raise NotImplementedError

    def setup_link(self, outbox_size: int = 100) -> None:
        """Create the websocket client from the parameters; raises ValueError if invalid."""
        url = webviz.url(params.get(self, 'host'), params.get(self, 'port'),
                         params.get(self, 'path'))
        hello = tuple(webviz.subscribe_frame(module) for module in self.modules())
        self.setup_client(url, max_message_bytes=params.get(self, 'max_message_bytes'),
                          outbox_size=outbox_size, hello=lambda: hello,
                          keepalive_frame=webviz.keepalive_frame(),
                          keepalive_interval_s=params.get(self, 'keepalive_interval_s'))

    def receive_push(self, frame: Frame) -> Push | None:
        """
        Decode a received frame; return its push, or None after counting a bad frame.

        Keepalive answers are None too: they carry nothing to publish.
        """
        try:
            event = webviz.parse_push(frame)
        except RemoteProtocolError as exc:
            self.count_bad_input(f'bad frame: {exc}')
            return None
        return event if type(event) is Push else None


class WebVizBridge(WebVizBridgeBase):
    """``webviz/<module>`` and ``webviz/<module>/request`` for each configured module."""

    # victor_mic_bridge writes /victor/connected; this node's link is ~/connected.
    NAMESPACE_CONNECTED = False

    def __init__(self, loop: LoopThread, **kwargs: Any) -> None:
        """Create the node; interfaces and link come with the configure transition."""
        super().__init__('webviz_bridge', loop, **kwargs)
        self._requests_refused = 0
        self._modules: tuple[str, ...] = ()
        self._module_publishers: dict[str, LifecyclePublisher] = {}

    def declare_bridge_parameters(self) -> None:
        """Declare the connection parameters, ``modules`` and the outbox size."""
        super().declare_bridge_parameters()
        params.declare(self, 'modules', list(DEFAULT_MODULES),
                       'webViz modules to subscribe and bridge (exact, lower-case names).')
        params.declare(self, 'outbox_queue_size', 100,
                       'Requests kept while disconnected; overflow drops the oldest.',
                       min_value=1, max_value=1_000_000)

    def modules(self) -> Sequence[str]:
        """Return the configured modules."""
        return self._modules

    def setup(self) -> None:
        """Validate ``modules``, then create one publisher and one subscription per module."""
        modules = params.get_strings(self, 'modules')
        if not modules:
            raise ValueError('modules is empty: name at least one webViz module')
        for module in modules:
            if not _MODULE_NAME.fullmatch(module):
                raise ValueError(f'module name {module!r} is not lower-case letters, digits '
                                 'and underscores')
        if len(set(modules)) != len(modules):
            raise ValueError(f'modules lists a module twice: {list(modules)}')
        self._modules = tuple(modules)
        self.setup_link(outbox_size=params.get(self, 'outbox_queue_size'))
        depth = params.get(self, 'qos_depth')
        for module in modules:
            self._module_publishers[module] = self.make_publisher(
                String, f'webviz/{module}', reliable(depth))
            self.make_subscription(String, f'webviz/{module}/request',
                                   partial(self._on_request, module), reliable(depth))

    def teardown(self) -> None:
        """Destroy the per-module interfaces and the link."""
        super().teardown()
        self._module_publishers = {}

    def diagnostic_values(self) -> Iterable[tuple[str, str]]:
        """Report the modules and the queued requests."""
        return (('modules', ','.join(self._modules)),
                ('requests_refused', str(self._requests_refused)), *super().diagnostic_values())

    # -- asyncio thread: hot path --------------------------------------------------------

    def link_frame(self, frame: Frame) -> None:
        """Publish a push's data on its module's topic."""
        event = self.receive_push(frame)
        if event is None:
            return
        publisher = self._module_publishers.get(event.module)
        if publisher is None:
            self.count_bad_input(
                f'unexpected module: a push of {excerpt(event.module)}, not subscribed')
            return
        try:
            text, nulled = webviz.compact_json(event.data)
        except RemoteProtocolError as exc:
            self.count_bad_input(f'bad frame: {exc}')
            return
        self.stats.messages_in += 1
        if nulled:
            self.stats.non_finite_nulled += nulled
        publisher.publish(String(data=text))

    # -- executor thread -----------------------------------------------------------------

    def _on_request(self, module: str, msg: String) -> None:
        try:
            frame = webviz.data_frame(module, msg.data)
        except LocalProtocolError as exc:
            self.loop.call_soon(self._refused)
            self.count_bad_input(f'bad request: rejected a request for {module}: {exc}')
            return
        self.send_frame(frame, f'request for {module}')

    def _refused(self) -> None:
        self._requests_refused += 1  # on the loop thread, like every counter


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges webviz_bridge``."""
    return run_bridge(WebVizBridge, args)
