"""
The base of bridges whose service is one websocket they dial (Robot Chat, webViz, DFX).

It owns the :class:`~robot_bridges.runtime.websocket_client.WebSocketClient`: creates it
from a URL at configure time (validated, its secrets registered for redaction), runs and
closes it for the lifecycle, and queues frames from the executor thread onto the loop.
"""

from __future__ import annotations

import ssl
from typing import Callable, Iterable, Mapping, Sequence

from robot_bridges.node import params
from robot_bridges.node.bridge_node import BridgeNode
from robot_bridges.runtime.link import Frame
from robot_bridges.runtime.redact import url_secrets
from robot_bridges.runtime.websocket_client import (check_url, WebSocketClient,
                                                    WebSocketClientConfig)
from robot_bridges.runtime.websocket_guard import DEFAULT_MAX_SEND_BUFFER_BYTES


class WebSocketBridge(BridgeNode):
    """A BridgeNode with one websocket client; subclasses implement ``link_frame``."""

    _client: WebSocketClient | None = None
    _max_frame_bytes = DEFAULT_MAX_SEND_BUFFER_BYTES

    def declare_link_parameters(self) -> None:
        """Declare liveness and the write-buffer bound, which every websocket bridge has."""
        params.declare(self, 'ping_interval_s', 20.0,
                       'Ping after this long without receiving anything, seconds.',
                       min_value=0.05, max_value=3600.0)
        params.declare(self, 'ping_timeout_s', 20.0,
                       'Nothing received for ping_interval_s + this: the link is dead, '
                       'aborted and redialled, seconds.', min_value=0.05, max_value=3600.0)
        params.declare(self, 'max_send_buffer_bytes', DEFAULT_MAX_SEND_BUFFER_BYTES,
                       'Bytes allowed to wait in the socket write buffer (frames, pong '
                       'replies); past it the link is aborted and redialled. Must exceed the '
                       'largest frame sent.', min_value=64 * 1024, max_value=1 << 31)

    def setup_client(self, url: str, *, max_message_bytes: int, outbox_size: int = 100,
                     hello: Callable[[], Sequence[Frame]] = tuple,
                     headers: Mapping[str, str] | None = None,
                     subprotocols: Sequence[str] = (),
                     ssl_context: ssl.SSLContext | None = None,
                     keepalive_frame: Frame | None = None,
                     keepalive_interval_s: float = 0.0) -> None:
        """
        Create the client (call from setup); raises ValueError for an unusable URL.

        ``keepalive_frame`` is the service's own keepalive, sent every
        ``keepalive_interval_s`` while connected (0: never); its answer, like anything
        received, keeps the link from being declared dead.

        ``headers`` go on every upgrade request; a secret among them (a bearer token) must
        be added to :attr:`secrets` by the caller, after this call.
        """
        self.secrets = url_secrets(url)
        check_url(url)
        config = WebSocketClientConfig(
            url=url, backoff=self.backoff(), max_message_bytes=max_message_bytes,
            headers=dict(headers or {}), subprotocols=tuple(subprotocols),
            ssl_context=ssl_context,
            ping_interval_s=params.get(self, 'ping_interval_s'),
            ping_timeout_s=params.get(self, 'ping_timeout_s'),
            max_send_buffer_bytes=params.get(self, 'max_send_buffer_bytes'),
            keepalive_frame=keepalive_frame, keepalive_interval_s=keepalive_interval_s)
        self._max_frame_bytes = config.max_send_buffer_bytes
        self._client = WebSocketClient(config, self, outbox_size=outbox_size, hello=hello)

    def send_frame(self, frame: Frame, what: str) -> None:
        """
        Queue a frame for the service, from the executor thread. Never blocks.

        Dropped (and counted) unless the node is active; rejected (counted as bad input) if
        larger than ``max_send_buffer_bytes``; while disconnected the frame waits in the
        client's bounded outbox, whose overflow drops the oldest ``what``.
        """
        client = self._client
        if not self.is_active or client is None:
            self.count_dropped(f'not active: dropped {what}')
            return
        limit = self._max_frame_bytes
        if len(frame) > limit // 4 and _size(frame) > limit:
            # It would overflow the write buffer, abort the link, and again after every
            # redial, with everything queued behind it.
            self.count_bad_input(f'frame too large: dropped a {what} of {_size(frame)} bytes, '
                                 f'over max_send_buffer_bytes ({limit})')
            return
        self.loop.call_soon(self._enqueue, client, frame, what)

    def _enqueue(self, client: WebSocketClient, frame: Frame, what: str) -> None:
        if not client.send(frame):
            self.count_dropped(f'outbox full: dropped the oldest {what}')

    async def run_link(self) -> None:
        """Stay connected until closed."""
        assert self._client is not None
        await self._client.run()

    async def close_link(self) -> None:
        """Close the websocket cleanly."""
        if self._client is not None:
            await self._client.close()

    def teardown(self) -> None:
        """Destroy the ROS entities and drop the client; queued frames are counted as dropped."""
        super().teardown()
        client, self._client = self._client, None
        if client is not None and self.context.ok():
            self.loop.call_soon(self._drop_queued, client)

    def _drop_queued(self, client: WebSocketClient) -> None:
        queued = len(client.outbox)
        if queued:
            client.outbox.clear()
            self.count_dropped(f'cleanup: dropped {queued} queued frame(s) that were never sent',
                               queued)

    def hardware_id(self) -> str:
        """Return the service's URL without credentials or query."""
        return self._client.display_url if self._client else ''

    def diagnostic_values(self) -> Iterable[tuple[str, str]]:
        """Report how many frames wait to be sent."""
        return (('outbox_queued', str(len(self._client.outbox) if self._client else 0)),)


def _size(frame: Frame) -> int:
    return len(frame) if isinstance(frame, bytes) else len(frame.encode('utf-8', 'replace'))
