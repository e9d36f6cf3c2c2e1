"""
The base of bridges whose service is one websocket they dial (Robot Chat, webViz, DFX).

It owns the :class:`~robot_bridges.runtime.websocket_client.WebSocketClient`: creates it
from a URL at configure time (validated, its secrets registered for redaction), runs and
closes it for the lifecycle, and queues frames from the executor thread onto the loop.
"""

from __future__ import annotations

import ssl
from typing import Callable, Iterable, Mapping, Sequence

from robot_bridges.node.bridge_node import BridgeNode
from robot_bridges.runtime.link import Frame
from robot_bridges.runtime.redact import url_secrets
from robot_bridges.runtime.websocket_client import (check_url, WebSocketClient,
                                                    WebSocketClientConfig)


class WebSocketBridge(BridgeNode):
    """A BridgeNode with one websocket client; subclasses implement ``link_frame``."""

    _client: WebSocketClient | None = None

    def setup_client(self, url: str, *, max_message_bytes: int, outbox_size: int = 100,
                     hello: Callable[[], Sequence[Frame]] = tuple,
                     headers: Mapping[str, str] | None = None,
                     subprotocols: Sequence[str] = (),
                     ssl_context: ssl.SSLContext | None = None) -> None:
        """
        Create the client (call from setup); raises ValueError for an unusable URL.

        ``headers`` go on every upgrade request; a secret among them (a bearer token) must
        be added to :attr:`secrets` by the caller, after this call.
        """
        self.secrets = url_secrets(url)
        check_url(url)
        config = WebSocketClientConfig(url=url, backoff=self.backoff(),
                                       max_message_bytes=max_message_bytes,
                                       headers=dict(headers or {}),
                                       subprotocols=tuple(subprotocols),
                                       ssl_context=ssl_context)
        self._client = WebSocketClient(config, self, outbox_size=outbox_size, hello=hello)

    def send_frame(self, frame: Frame, what: str) -> None:
        """
        Queue a frame for the service, from the executor thread. Never blocks.

        Dropped (and counted) unless the node is active; while disconnected the frame waits
        in the client's bounded outbox, whose overflow drops the oldest ``what``.
        """
        client = self._client
        if not self.is_active or client is None:
            self.count_dropped(f'not active: dropped {what}')
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
        """Destroy the ROS entities and drop the client."""
        super().teardown()
        self._client = None

    def hardware_id(self) -> str:
        """Return the service's URL without credentials or query."""
        return self._client.display_url if self._client else ''

    def diagnostic_values(self) -> Iterable[tuple[str, str]]:
        """Report how many frames wait to be sent."""
        return (('outbox_queued', str(len(self._client.outbox) if self._client else 0)),)
