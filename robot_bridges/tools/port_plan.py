"""
The main job's ports: the fixed ones the README documents, checked first, or free ones.

Six of the main job's processes listen (five simulators and the Reachy bridge's sync server);
the others are told where. With fixed ports every port is checked before anything starts, and
a taken one is reported with the program holding it (:mod:`robot_bridges.tools.port_owner`).
With ``--ports auto`` each listener binds port 0 and prints where it listens, and only then
are its clients started, with that address: the port is never released between choosing and
binding, so no other program can take it meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
import threading
import time
from typing import Callable, Mapping

from robot_bridges.tools.port_owner import describe_holders, port_is_free

HOST = '127.0.0.1'
READY_TIMEOUT_S = 30.0

# The listening line of every simulator and of the Reachy bridge's log.
LISTENING = re.compile(r'listening on (?P<url>(?:ws|http)://[^:/\s]+:(?P<port>\d+))')
# letsrobot_sim's second line: the parameters that point a bridge at it.
BRIDGE_PARAMETERS = re.compile(r'bridge parameters: (?P<params>(?:-p \S+:=\S+ ?)+)')


class PortPlanError(RuntimeError):
    """A listener did not say where it listens (it exited, or took too long)."""


@dataclass(frozen=True)
class Endpoint:
    """Where a listener listens: its (first) port, its URL and, for LetsRobot, the bridge's."""

    port: int
    url: str
    parameters: Mapping[str, str] = field(default_factory=dict)


def parse_listening(line: str) -> Endpoint | None:
    """Return the endpoint a ``listening on ws://host:port`` line announces."""
    match = LISTENING.search(line)
    return Endpoint(int(match['port']), match['url']) if match else None


def parse_bridge_parameters(line: str) -> Endpoint | None:
    """Return the endpoint in letsrobot_sim's ``bridge parameters: -p k:=v ...`` line."""
    match = BRIDGE_PARAMETERS.search(line)
    if not match:
        return None
    parameters = dict(pair.split(':=', 1) for pair in match['params'].split() if pair != '-p')
    url = parameters['info_server']
    return Endpoint(int(url.rsplit(':', 1)[1]), url, parameters)


@dataclass(frozen=True)
class Listener:
    """A process of the main job that listens, and how it announces where."""

    label: str
    what: str
    fixed: Endpoint
    ports: tuple[int, ...]  # every fixed port it takes
    parse: Callable[[str], Endpoint | None] = parse_listening
    # The arguments that make it listen on a port (0: any free port).
    arguments: Callable[[int], tuple[str, ...]] = lambda port: ('--port', str(port))


def _url(port: int, scheme: str = 'ws') -> str:
    return f'{scheme}://{HOST}:{port}'


LETSROBOT_FIXED = Endpoint(8100, _url(8100, 'http'), {
    'info_server': _url(8100, 'http'), 'api_server': _url(8100, 'http'),
    'app_server': _url(8103, 'http'), 'user_server': _url(8104, 'http')})

LISTENERS = {listener.label: listener for listener in (
    Listener('chat-server', 'the Robot Chat relay', Endpoint(5001, _url(5001)), (5001,)),
    Listener('victor-anim-sim', 'the Victor anim process (micdata) simulator',
             Endpoint(8889, _url(8889)), (8889,)),
    Listener('victor-engine-sim', 'the Victor engine process (webViz) simulator',
             Endpoint(8888, _url(8888)), (8888,)),
    Listener('reachy-bridge', "the Reachy bridge's sync server, which reachy_sim dials",
             Endpoint(6171, _url(6171)), (6171,),
             arguments=lambda port: ('--ros-args', '-p', f'port:={port}')),
    Listener('dfx-sim', 'the DFX API simulator', Endpoint(9080, _url(9080)), (9080,)),
    Listener('letsrobot-sim', 'the LetsRobot.tv simulator (HTTP, four sockets, two relays)',
             LETSROBOT_FIXED, tuple(range(8100, 8107)), parse_bridge_parameters),
)}


def _ros_parameters(values: Mapping[str, str]) -> tuple[str, ...]:
    return ('--ros-args', *(arg for name, value in values.items()
                            for arg in ('-p', f'{name}:={value}')))


# Each client: the listener it talks to, and the arguments that point it there.
CLIENTS: dict[str, tuple[str, Callable[[Endpoint], tuple[str, ...]]]] = {
    'chat-bridge': ('chat-server', lambda e: _ros_parameters({'url': e.url})),
    'chat-peer': ('chat-server', lambda e: ('--url', e.url)),
    'victor-mic-bridge': ('victor-anim-sim', lambda e: _ros_parameters({'port': str(e.port)})),
    'webviz-bridge': ('victor-engine-sim', lambda e: _ros_parameters({'port': str(e.port)})),
    'reachy-sim': ('reachy-bridge', lambda e: ('--url', e.url)),
    'dfx-bridge': ('dfx-sim', lambda e: _ros_parameters({'url': e.url})),
    'letsrobot-bridge': ('letsrobot-sim', lambda e: _ros_parameters(e.parameters)),
}


def taken_ports(listeners: Mapping[str, Listener] = LISTENERS) -> list[str]:
    """Return one line per fixed port in use: the port, who wanted it, who holds it."""
    return [f'port {port} is taken ({listener.label}, {listener.what}, listens on it): '
            f'{describe_holders(port)}'
            for listener in listeners.values() for port in listener.ports
            if not port_is_free(port, HOST)]


class PortPlan:
    """
    The ports of one main job, handed out as command-line arguments, process by process.

    Fixed: the README's ports, known at once. Auto: a listener's endpoint is known once its
    output (passed through :meth:`watch`) said where it listens; :meth:`arguments` of a client
    waits for that.
    """

    def __init__(self, auto: bool) -> None:
        self.auto = auto
        self._endpoints: dict[str, Endpoint] = (
            {} if auto else {label: s.fixed for label, s in LISTENERS.items()})
        self._announced = threading.Condition()

    def arguments(self, label: str, running: Callable[[str], bool]) -> tuple[str, ...]:
        """
        Return the port arguments of the process ``label`` (none if it has no port).

        For a client in auto mode this waits for its listener to announce itself; raises
        :class:`PortPlanError` if the listener exits or is silent for READY_TIMEOUT_S.
        ``running(label)`` tells whether the process ``label`` is still running.
        """
        if label in LISTENERS:
            listener = LISTENERS[label]
            return listener.arguments(0 if self.auto else listener.fixed.port)
        if label not in CLIENTS:
            return ()
        server, to_arguments = CLIENTS[label]
        return to_arguments(self._wait_for(server, running))

    def watch(self, label: str, write: Callable[[str], None]) -> Callable[[str], None]:
        """Return a writer of ``label``'s output lines that also learns its endpoint."""
        listener = LISTENERS.get(label)
        if listener is None or not self.auto:
            return write

        def learn(line: str) -> None:
            endpoint = listener.parse(line)
            if endpoint is not None:
                with self._announced:
                    self._endpoints.setdefault(label, endpoint)
                    self._announced.notify_all()
            write(line)
        return learn

    def _wait_for(self, server: str, running: Callable[[str], bool]) -> Endpoint:
        deadline = time.monotonic() + READY_TIMEOUT_S
        with self._announced:
            while server not in self._endpoints:
                if not running(server):
                    raise PortPlanError(f'{server} exited before it said where it listens')
                if time.monotonic() > deadline:
                    raise PortPlanError(f'{server} did not say where it listens within '
                                        f'{READY_TIMEOUT_S:g} s')
                self._announced.wait(0.1)
            return self._endpoints[server]
