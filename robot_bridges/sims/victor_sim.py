"""
Executable victor_sim: a Victor webViz server that speaks as the robot does.

``ws://<host>:<port>/socket`` (other paths: HTTP 404). Clients subscribe and unsubscribe
per module; pushes ``{"module": m, "data": ...}`` go only to subscribers of ``m``, written
as the firmware's jsoncpp writer does; a keepalive is answered with ``{"keepalive" : true}``;
frames the robot would not parse are ignored. By default it has the firmware's civetweb
habits (:mod:`robot_bridges.sims.civetweb`): no PONG, no close reply, a client silent for
an hour is closed, 4 websockets at once. With autoplay on, it sends micdata at the
firmware's cadence (every 132 ms) from a sound source moving around the robot (not with
``micdata=False``: a production build, which accepts the subscription and sends nothing),
animations, observedobjects, intents, soundreactions and speechrecognizersys traffic, and
answers new intents/behaviors subscribers and intents requests as the firmware does. The real robot
splits modules between two ports (8888 engine, 8889 anim); the simulator serves every module
on its one port, so run two to mimic both. A client that stops reading is disconnected, with
a log line, once more than ``--max-send-buffer`` bytes wait for it.

Library use (tests, benchmarks)::

    sim = await start(port=0, autoplay=False)
    await sim.wait_for_subscribers('micdata')
    sim.push('micdata', make_micdata(1.0, 9, 150))
    await sim.close()
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict, deque
from http import HTTPStatus
import logging
import sys
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

from robot_bridges.protocols import webviz
from robot_bridges.protocols.webviz import (DataRequest, DIRECTION_FIELDS, Keepalive, MICDATA,
                                            Subscribe, Unsubscribe)
from robot_bridges.runtime.websocket_guard import DEFAULT_MAX_SEND_BUFFER_BYTES
from robot_bridges.sims import command_line
from robot_bridges.sims import victor_traffic as traffic
from robot_bridges.sims.civetweb import (CLIENT_TIMEOUT_S, Firmware, firmware_server,
                                         WORKER_THREADS, Workers)
from robot_bridges.sims.signals import stop_event
from robot_bridges.sims.victor_traffic import make_micdata
from websockets.asyncio.server import broadcast, serve, Server, ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

__all__ = ['VictorSim', 'start', 'make_micdata', 'main']

PATH = '/socket'
MAX_RATE_HZ = 100_000.0
FIRMWARE_RATE_HZ = 1.0 / traffic.MICDATA_PERIOD_S
_log = logging.getLogger('victor_sim')


class VictorSim:
    """A running simulated robot: its connections, their subscriptions, its traffic."""

    def __init__(self, *, rate_hz: float = FIRMWARE_RATE_HZ, field: str = 'both',
                 pretty: bool = True, autoplay: bool = True,
                 max_send_buffer: int = DEFAULT_MAX_SEND_BUFFER_BYTES,
                 firmware: Firmware = Firmware(), micdata: bool = True) -> None:
        """Check the options; :func:`start` makes and starts one."""
        if not 0.0 < rate_hz <= MAX_RATE_HZ:
            raise ValueError(f'rate_hz must be in (0, {MAX_RATE_HZ:g}], got {rate_hz}')
        if field not in DIRECTION_FIELDS:
            raise ValueError(f'field must be one of {DIRECTION_FIELDS}, got {field!r}')
        if max_send_buffer < 1:
            raise ValueError(f'max_send_buffer must be positive, got {max_send_buffer}')
        self.rate_hz = rate_hz
        self.max_send_buffer = max_send_buffer
        self.field = field
        self.pretty = pretty
        self.autoplay = autoplay
        self.firmware = firmware
        #: False: a production build (micdata is compiled only into development builds).
        self.micdata = micdata
        self.workers = Workers(firmware.workers)
        #: Keepalives answered, and why the server dropped clients itself (for tests).
        self.keepalives = 0
        self.drops: list[str] = []
        self.connections: set[ServerConnection] = set()
        self.subscribers: defaultdict[str, set[ServerConnection]] = defaultdict(set)
        #: The last data requests received, oldest first (for tests and demos).
        self.requests: deque[DataRequest] = deque(maxlen=1000)
        self.micdata_sent = 0
        self._pending_user_intent: str | None = None
        self._changed = asyncio.Condition()
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def port(self) -> int:
        """Return the TCP port the server listens on."""
        assert self._server is not None, 'not started'
        return int(next(iter(self._server.sockets)).getsockname()[1])

    async def _start(self, host: str, port: int) -> None:
        # The robot never pings its clients; civetweb keeps a waiting client queued.
        self._server = await serve(
            self._handle, host, port, process_request=self._process_request,
            compression=None, max_size=1 << 20, close_timeout=1.0, logger=_log,
            ping_interval=None, open_timeout=None,
            create_connection=firmware_server(self.firmware, self.max_send_buffer))
        if self.autoplay:
            self._tasks = [
                asyncio.create_task(self._play_micdata()),
                asyncio.create_task(self._every(traffic.ANIMATION_PERIOD_S, self._animate)),
                asyncio.create_task(self._every(traffic.OBSERVE_PERIOD_S, self._observe)),
                asyncio.create_task(self._every(traffic.INTENT_PERIOD_S, self._hear_intent)),
                asyncio.create_task(self._every(traffic.SPEECH_CYCLE_S, self._hear_speech)),
            ]

    async def _process_request(self, connection: ServerConnection,
                               request: Request) -> Response | None:
        refused = _only_socket_path(connection, request)
        if refused is not None:
            return refused
        return await self.workers.process_request(connection, request)

    # -- the library API -----------------------------------------------------------------

    def push(self, module: str, data: Any) -> int:
        """
        Send ``{"module": module, "data": data}`` to its subscribers; return how many.

        Never blocks: the frame goes into each connection's write buffer (websockets'
        ``broadcast``); connections that are closing are skipped.
        """
        subscribers = self.subscribers.get(module)
        if not subscribers:
            return 0
        broadcast(subscribers, webviz.push_frame(module, data, self.pretty))
        return len(subscribers)

    def send_raw(self, frame: str | bytes) -> int:
        """Send any frame to every connection, subscribed or not (for fault injection)."""
        broadcast(self.connections, frame)
        return len(self.connections)

    async def wait_for_subscribers(self, module: str, count: int = 1,
                                   timeout: float = 5.0) -> None:
        """Wait until ``module`` has at least ``count`` subscribers; raises TimeoutError."""
        async def enough() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.subscribers[module]) >= count)

        try:
            await asyncio.wait_for(enough(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f'{module} has {len(self.subscribers[module])} subscribers, '
                               f'not {count}, after {timeout} s') from None

    async def close(self) -> None:
        """Stop the traffic and close every connection (close handshake, bounded)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- one connection ------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        self.connections.add(connection)
        modules: set[str] = set()
        try:
            async for frame in connection:
                request = webviz.parse_request(frame)
                if request is None:
                    continue  # the robot ignores what it cannot parse
                if isinstance(request, Subscribe):
                    modules.add(request.module)
                    await self._subscribe(connection, request.module)
                elif isinstance(request, Unsubscribe):
                    modules.discard(request.module)
                    await self._unsubscribe(connection, request.module)
                elif isinstance(request, Keepalive):
                    self.keepalives += 1
                    await connection.send(webviz.keepalive_answer(self.pretty))
                else:
                    self.requests.append(request)
                    self._answer(connection, request)
        except ConnectionClosed:
            pass
        finally:
            dropped = getattr(connection, 'dropped_because', None)
            if dropped is not None:
                self.drops.append(dropped)
            self.connections.discard(connection)
            for module in modules:
                await self._unsubscribe(connection, module)

    async def _subscribe(self, connection: ServerConnection, module: str) -> None:
        async with self._changed:
            self.subscribers[module].add(connection)
            self._changed.notify_all()
        if not self.autoplay:
            return
        # What the firmware sends a new subscriber (micdata: nothing).
        send = self._to(connection, module)
        if module == 'intents':
            send(traffic.intents_snapshot(self._pending_user_intent))
        elif module == 'behaviors':
            send(traffic.behavior_tree(asyncio.get_running_loop().time()))
            send(traffic.behavior_ids())

    async def _unsubscribe(self, connection: ServerConnection, module: str) -> None:
        async with self._changed:
            self.subscribers[module].discard(connection)
            self._changed.notify_all()

    def _answer(self, connection: ServerConnection, request: DataRequest) -> None:
        if not self.autoplay or request.module != 'intents':
            return  # other modules act on requests without answering (behaviors) or ignore them
        intent = traffic.intent_for_request(request.data)
        if intent is not None:
            kind, value = intent
            if kind == 'user':
                self._pending_user_intent = value
            self.push('intents', traffic.current_intent(kind, value))

    def _to(self, connection: ServerConnection, module: str) -> Callable[[Any], None]:
        def send(data: Any) -> None:
            broadcast((connection,), webviz.push_frame(module, data, self.pretty))
        return send

    # -- scripted traffic ----------------------------------------------------------------

    async def _play_micdata(self) -> None:
        """Send micdata at ``rate_hz`` on an absolute schedule (late samples catch up)."""
        loop = asyncio.get_running_loop()
        period = 1.0 / self.rate_hz
        start = loop.time()
        sample = 0
        while True:
            sample += 1
            delay = start + sample * period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.5:
                start -= delay  # stalled (suspended?): resume the schedule, do not flood
            elif sample % 64 == 0:
                await asyncio.sleep(0)  # catching up: still let connections be served
            if self.micdata and self.subscribers.get(MICDATA):
                robot_time = sample / self.rate_hz
                direction, confidence, trigger = traffic.mic_source(robot_time)
                self.push(MICDATA, make_micdata(robot_time, direction, confidence, self.field,
                                                trigger_detected=trigger))
                self.micdata_sent += 1

    async def _every(self, period: float, act: Callable[[int], None]) -> None:
        tick = 0
        while True:
            await asyncio.sleep(period)
            tick += 1
            act(tick)

    def _animate(self, tick: int) -> None:
        index = tick - 1
        self.push('animations', traffic.animation_event(index, start=True))
        asyncio.get_running_loop().call_later(
            traffic.ANIMATION_LENGTH_S,
            lambda: self.push('animations', traffic.animation_event(index, start=False)))

    def _observe(self, tick: int) -> None:
        robot_time = tick * traffic.OBSERVE_PERIOD_S
        if tick % 20 == 0:
            self.push('observedobjects', traffic.deleted_object())
        elif tick % 30 == 0:
            self.push('observedobjects', traffic.deleted_face())
        elif tick % 10 == 0:
            self.push('observedobjects', traffic.observed_face(robot_time))
        else:
            self.push('observedobjects', traffic.observed_object(robot_time))

    def _hear_intent(self, tick: int) -> None:
        value = traffic.USER_INTENTS[(tick - 1) % len(traffic.USER_INTENTS)]
        self._pending_user_intent = value
        self.push('intents', traffic.current_intent('user', value))

    def _hear_speech(self, tick: int) -> None:
        # Each burst of the scripted source starts with the trigger word.
        robot_time = tick * traffic.SPEECH_CYCLE_S
        self.push('speechrecognizersys', traffic.speech_recognizer_result(tick))
        direction = traffic.mic_source(robot_time)[0]
        self.push('soundreactions', traffic.sound_reaction(robot_time, direction))


def _only_socket_path(connection: ServerConnection, request: Request) -> Response | None:
    # The robot's civetweb serves the websocket on /socket only.
    if urlsplit(request.path).path != PATH:
        return connection.respond(HTTPStatus.NOT_FOUND, 'Not Found\n')
    return None


async def start(host: str = '127.0.0.1', port: int = 8889, *,
                rate_hz: float = FIRMWARE_RATE_HZ, field: str = 'both', pretty: bool = True,
                autoplay: bool = True, max_send_buffer: int = DEFAULT_MAX_SEND_BUFFER_BYTES,
                firmware: Firmware = Firmware(), micdata: bool = True) -> VictorSim:
    """
    Start a simulated robot; ``port`` 0 picks a free port (see :attr:`VictorSim.port`).

    ``autoplay`` False sends nothing by itself: only what :meth:`VictorSim.push` sends.
    ``firmware`` picks civetweb's habits (default: all of them, as the robot has them).
    Raises ValueError for invalid options, OSError if the port cannot be bound.
    """
    sim = VictorSim(rate_hz=rate_hz, field=field, pretty=pretty, autoplay=autoplay,
                    max_send_buffer=max_send_buffer, firmware=firmware, micdata=micdata)
    await sim._start(host, port)
    return sim


async def serve_until_signalled(args: argparse.Namespace) -> None:
    """Run until SIGINT or SIGTERM, then close every connection cleanly."""
    firmware = Firmware(pong=args.pong, close_reply=args.close_reply,
                        client_timeout_s=args.client_timeout or None,
                        workers=args.workers or None)
    sim = await start(args.host, args.port, rate_hz=args.rate, field=args.field,
                      pretty=not args.compact, autoplay=not args.no_autoplay,
                      max_send_buffer=args.max_send_buffer, firmware=firmware,
                      micdata=not args.no_micdata)
    host = f'[{args.host}]' if ':' in args.host else args.host
    print(f'victor_sim: listening on ws://{host}:{sim.port}{PATH}', flush=True)
    await stop_event().wait()
    await sim.close()
    # The count a soak or a benchmark compares with what arrived.
    print(f'victor_sim: sent {sim.micdata_sent} micdata pushes', flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1',
                        help='interface to bind (0.0.0.0 for all: ask for it explicitly)')
    parser.add_argument('--port', type=int, default=8889, help='TCP port (0: any free port)')
    parser.add_argument('--rate', type=float, default=FIRMWARE_RATE_HZ,
                        help='micdata pushes per second (default: as the firmware, one per '
                             '132 ms)')
    parser.add_argument('--field', choices=DIRECTION_FIELDS, default='both',
                        help='name of the winning direction: older (dominant) or later '
                             '(direction) firmware, or both')
    style = parser.add_mutually_exclusive_group()
    style.add_argument('--pretty', action='store_true',
                       help="indented multi-line JSON, as the robot's writer does (default)")
    style.add_argument('--compact', action='store_true',
                       help='send compact one-line JSON instead')
    parser.add_argument('--no-micdata', action='store_true',
                        help='act as a production build: accept micdata subscriptions, never '
                             'send micdata (it is compiled into development builds only)')
    parser.add_argument('--pong', action='store_true',
                        help='answer websocket pings (the robot does not)')
    parser.add_argument('--close-reply', action='store_true',
                        help='answer a close frame with one (the robot drops the TCP '
                             'connection instead)')
    parser.add_argument('--client-timeout', type=float, default=CLIENT_TIMEOUT_S,
                        help='close a client from which nothing arrived for this long, '
                             'seconds (the robot: 3600; 0: never); scale it for tests')
    parser.add_argument('--workers', type=int, default=WORKER_THREADS,
                        help='websockets served at once; the next client waits (the robot: '
                             '4; 0: any number)')
    parser.add_argument('--no-autoplay', action='store_true',
                        help='send no scripted traffic (subscriptions and keepalives only)')
    parser.add_argument('--max-send-buffer', type=int, default=DEFAULT_MAX_SEND_BUFFER_BYTES,
                        help='bytes allowed to wait for one client; past it, the client is '
                             'disconnected')
    args = command_line.parse_args(parser, argv)
    if args.client_timeout < 0:
        parser.error('--client-timeout must not be negative')
    if args.workers < 0:
        parser.error('--workers must not be negative')
    if args.max_send_buffer < 1:
        parser.error('--max-send-buffer must be positive')
    if not 0.0 < args.rate <= MAX_RATE_HZ:
        parser.error(f'--rate must be in (0, {MAX_RATE_HZ:g}]')
    if not 0 <= args.port < 65536:
        parser.error('--port must be in 0..65535')
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges victor_sim``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='victor_sim: %(message)s')
    try:
        asyncio.run(serve_until_signalled(args))
    except OSError as exc:
        print(f'victor_sim: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}',
              file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        pass  # interrupted before the signal handlers were installed
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
