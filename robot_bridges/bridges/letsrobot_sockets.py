"""
The LetsRobot bridge's discovery and its four socket.io connections (asyncio thread only).

:func:`discover` asks the info and API servers where everything is. :class:`SiteSockets`
then holds the control, chat, app and user sockets for the node's active life:

* each identifies itself after every (re)connect and every ``identify_period_s``
  (``robot_id`` on control, ``identify_robot_id`` on chat and app), and the app socket
  sends ``ip_information`` ``{ip, robot_id}`` with them, as the reference client did every
  60 s; ``ip`` is the local address of the app socket's own connection (the interface that
  reaches the server), never a guess;
* on every control or chat disconnect it re-reads that socket's discovery route, as the
  reference client did (letsRobot/letsrobot ``networking.py`` ``onHandleControlDisconnect``,
  commit 8e82f13186ca14d9ba2e3cab8a690358c0f269e4), and again after each backoff step
  while the socket stays down: a server that moved is followed (the old client is closed,
  a new one dials the new address).

Events go to the node's ``socket_event``; connection state to ``socket_up`` /
``socket_down`` (:class:`SocketsOwner`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import functools
from typing import Any, Awaitable, Callable, Protocol, Sequence

import aiohttp
from robot_bridges.protocols import letsrobot as proto
from robot_bridges.protocols.letsrobot import HostPort, RemoteProtocolError, Settings
from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.http_json import fetch_json
from robot_bridges.runtime.redact import describe_exception, redact_url
from robot_bridges.runtime.socketio_client import Emit, SocketIOClient, SocketIOClientConfig
from robot_bridges.runtime.socketio_eio3 import Protocol as EngineIOProtocol

SOCKETS = ('control', 'chat', 'app', 'user')
REDISCOVERED = ('control', 'chat')
HTTP_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0
OUTBOX_SIZE = 20


@dataclass(frozen=True)
class Discovered:
    """What discovery found: where the sockets and the relay are, whose robot it is."""

    control: HostPort
    chat: HostPort
    owner: str
    settings: Settings
    relay_host: str
    video_port: int
    audio_port: int
    moderators: tuple[str, ...] = ()
    moderators_error: str = ''  # why the owner's account could not be read ('' if it was)


@dataclass(frozen=True)
class Servers:
    """The configured servers (URLs) and what to ask them for."""

    info: str
    api: str
    app: str
    user: str
    robot_id: str
    camera_id: str

    async def get(self, session: aiohttp.ClientSession, url: str, name: str,
                  parse: Callable[[Any], Any]) -> Any:
        """Fetch and parse one answer; raises FetchError or RemoteProtocolError."""
        value = await fetch_json(url, timeout_s=HTTP_TIMEOUT_S, session=session)
        try:
            return parse(value)
        except RemoteProtocolError as exc:
            raise RemoteProtocolError(f'{name} ({redact_url(url)}): {exc}') from None

    async def route(self, session: aiohttp.ClientSession, name: str,
                    parse: Callable[[Any], Any]) -> Any:
        """Fetch one info-server route by name (``control``, ``chat``, ``owner`` ...)."""
        path = proto.discovery_paths(self.robot_id, self.camera_id)[name]
        return await self.get(session, self.info.rstrip('/') + path, name, parse)

    def settings_url(self) -> str:
        """Return the API server's settings URL of this robot."""
        return self.api.rstrip('/') + proto.settings_path(self.robot_id)


async def discover(session: aiohttp.ClientSession, servers: Servers, owner: str,
                   video: bool, audio: bool) -> Discovered:
    """Ask every route once (``owner`` given: not asked); raises on the first failure."""
    control = await servers.route(session, 'control', proto.parse_host_port)
    chat = await servers.route(session, 'chat', proto.parse_host_port)
    owner = owner or await servers.route(session, 'owner', proto.parse_owner)
    settings = await servers.get(session, servers.settings_url(), 'settings',
                                 proto.parse_settings)
    # The owner's moderators, as the reference read them at start; without them only the
    # moderators parameter counts, so a failure here is reported, not retried.
    moderators: tuple[str, ...] = ()
    moderators_error = ''
    try:
        moderators = await servers.get(session, servers.api.rstrip('/') +
                                       proto.account_path(owner), 'account',
                                       proto.parse_moderators)
    except Exception as exc:  # noqa: B902 - FetchError or RemoteProtocolError
        moderators_error = describe_exception(exc)
    relay, video_port, audio_port = '', 0, 0
    if video or audio:
        relay = await servers.route(session, 'relay', proto.parse_host)
    if video:
        video_port = await servers.route(session, 'video_port',
                                         lambda v: proto.parse_port(v, 'mpeg_stream_port'))
    if audio:
        audio_port = await servers.route(session, 'audio_port',
                                         lambda v: proto.parse_port(v, 'audio_stream_port'))
    return Discovered(control, chat, owner, settings, relay, video_port, audio_port,
                      moderators, moderators_error)


class SocketsOwner(Protocol):
    """What :class:`SiteSockets` tells the node, on the loop thread."""

    def socket_up(self, name: str) -> None:
        """Handle a socket that connected and identified itself."""

    def socket_down(self, name: str, reason: str) -> None:
        """Handle a socket that lost its connection (it reconnects by itself)."""

    def socket_event(self, name: str, event: str, data: object) -> None:
        """Handle one event that arrived on a socket."""

    def link_sent(self, count: int) -> None:
        """Count queued emits that went out."""

    def count_bad_input(self, what: str) -> None:
        """Count bad network input."""

    def link_error(self, what: str) -> None:
        """Report a failure the sockets survive."""

    def link_aborted(self, reason: str) -> None:
        """Report a live socket that was aborted."""

    def log_info(self, what: str) -> None:
        """Log one line of news (a server that moved)."""


class SiteSockets:
    """The four sockets of one active session, from :meth:`start` to :meth:`close`."""

    def __init__(self, owner: SocketsOwner, servers: Servers, backoff: Backoff,
                 secrets: Sequence[str], *, engineio_protocol: EngineIOProtocol,
                 ip_information: bool) -> None:
        self._owner = owner
        self._servers = servers
        self._backoff = backoff
        self._secrets = tuple(secrets)
        self._protocol: EngineIOProtocol = engineio_protocol
        self._ip_information = ip_information
        self.clients: dict[str, SocketIOClient] = {}
        self.up = dict.fromkeys(SOCKETS, False)
        self.reconnects = dict.fromkeys(SOCKETS, 0)
        self.moves = dict.fromkeys(REDISCOVERED, 0)
        self.ip_information_sent = 0
        self._ever_up = dict.fromkeys(SOCKETS, False)
        self._where: dict[str, HostPort] = {}
        self._following: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def start(self, session: aiohttp.ClientSession, found: Discovered) -> None:
        """Dial every socket where discovery said."""
        self._session = session
        self._where = {'control': found.control, 'chat': found.chat}
        for name in SOCKETS:
            self._run(name, self._url(name))

    async def close(self) -> None:
        """Close every socket; returns once all have stopped."""
        self._closed = True
        tasks = list(self._following.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Still listed while they close: their last link_down reaches the owner (cmd_vel
        # stops on it).
        clients = list(self.clients.values())
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        self.clients = {}
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.up = dict.fromkeys(SOCKETS, False)

    def emit(self, name: str, event: str, data: object) -> bool:
        """Queue an emit on one socket; False if that socket does not exist (yet)."""
        client = self.clients.get(name)
        if client is None:
            return False
        client.emit(event, data)
        return True

    async def emit_now(self, name: str, event: str, data: object) -> bool:
        """Send at once if that socket is up (a last word before :meth:`close`)."""
        client = self.clients.get(name)
        return client is not None and await client.emit_now(event, data)

    def protocol(self, name: str) -> str:
        """Return the Engine.IO protocol of a socket's last session, for diagnostics."""
        client = self.clients.get(name)
        found = client.engineio_protocol if client is not None else None
        return str(found) if found else 'unknown'

    def where(self, name: str) -> str:
        """Return where a socket dials (host:port, or the configured URL)."""
        client = self.clients.get(name)
        return client.display_url if client is not None else ''

    def identify(self) -> None:
        """Re-identify every connected socket (and send ``ip_information``)."""
        for name, client in self.clients.items():
            if client.connected:
                for event, data in self._hello(name):
                    client.emit(event, data)
        app = self.clients.get('app')
        if self._ip_information and app is not None and app.connected:
            ip = app.local_address
            if ip:
                app.emit(proto.IP_INFORMATION,
                         proto.ip_information(ip, self._servers.robot_id))
                self.ip_information_sent += 1

    # -- one socket ------------------------------------------------------------------------

    def _url(self, name: str) -> str:
        if name in REDISCOVERED:
            where = self._where[name]
            host = f'[{where.host}]' if ':' in where.host else where.host
            return f'http://{host}:{where.port}'
        return self._servers.app if name == 'app' else self._servers.user

    def _run(self, name: str, url: str) -> None:
        config = SocketIOClientConfig(url=url, backoff=self._backoff, transports=('websocket',),
                                      connect_timeout_s=CONNECT_TIMEOUT_S,
                                      secrets=self._secrets,
                                      engineio_protocol=self._protocol)
        client = SocketIOClient(config, _Listener(self, name), outbox_size=OUTBOX_SIZE,
                                on_event=functools.partial(self._owner.socket_event, name),
                                hello=functools.partial(self._hello, name))
        self.clients[name] = client
        task = asyncio.ensure_future(client.run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _hello(self, name: str) -> Sequence[Emit]:
        robot_id = self._servers.robot_id
        if name == 'control':
            return ((proto.ROBOT_ID, robot_id),)
        if name in ('chat', 'app'):
            return ((proto.IDENTIFY, robot_id),)
        return ()

    def _socket_up(self, name: str) -> None:
        if self._ever_up[name]:
            self.reconnects[name] += 1
        self._ever_up[name] = True
        self.up[name] = True
        self._owner.socket_up(name)

    def _socket_down(self, name: str, reason: str) -> None:
        self.up[name] = False
        self._owner.socket_down(name, reason)
        if name in REDISCOVERED and not self._closed and name not in self._following:
            task = asyncio.ensure_future(self._follow(name))
            self._following[name] = task
            task.add_done_callback(lambda _: self._following.pop(name, None))

    async def _follow(self, name: str) -> None:
        """Re-read discovery now and after each backoff step until up again or moved."""
        delays = self._backoff.delays()
        assert self._session is not None
        while not self._closed and not self.up[name]:
            try:
                where = await self._servers.route(self._session, name, proto.parse_host_port)
            except Exception as exc:  # noqa: B902 - FetchError or RemoteProtocolError
                self._owner.link_error(f'{name} re-discovery failed: '
                                       f'{describe_exception(exc)}')
            else:
                if where != self._where[name]:
                    await self._move(name, where)
                    return
            await asyncio.sleep(next(delays))

    async def _move(self, name: str, where: HostPort) -> None:
        old = self.clients.pop(name, None)
        self._owner.log_info(f'{name} server moved: {self._where[name].host}:'
                             f'{self._where[name].port} -> {where.host}:{where.port}')
        self._where[name] = where
        self.moves[name] += 1
        if old is not None:
            await old.close()
        if not self._closed:
            self._run(name, self._url(name))


class _Listener:
    """One socket's link callbacks, forwarded with the socket's name."""

    def __init__(self, sockets: SiteSockets, name: str) -> None:
        self._sockets = sockets
        self._name = name

    def _current(self) -> bool:
        # A replaced client's last words (its close) are not the socket's state any more.
        client = self._sockets.clients.get(self._name)
        return client is not None and client.listener is self

    def link_up(self) -> None:
        if self._current():
            self._sockets._socket_up(self._name)

    def link_down(self, reason: str) -> None:
        if self._current():
            self._sockets._socket_down(self._name, reason)

    def link_frame(self, frame: object) -> None:
        pass  # socket.io delivers events through on_event

    def link_sent(self, count: int) -> None:
        self._sockets._owner.link_sent(count)

    def link_bad_frame(self, what: str) -> None:
        self._sockets._owner.count_bad_input(f'{self._name} socket: {what}')

    def link_error(self, what: str) -> None:
        self._sockets._owner.link_error(f'{self._name} socket: {what}')

    def link_aborted(self, reason: str) -> None:
        self._sockets._owner.link_aborted(f'{self._name} socket: {reason}')


async def refetch_settings(session: aiohttp.ClientSession, servers: Servers) -> Settings:
    """Fetch the settings again (after ``robot_settings_changed``); raises on failure."""
    value: Awaitable[Any] = fetch_json(servers.settings_url(), timeout_s=HTTP_TIMEOUT_S,
                                       session=session)
    return proto.parse_settings(await value)
