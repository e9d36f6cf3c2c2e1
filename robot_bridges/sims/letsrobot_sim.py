"""
Executable letsrobot_sim: everything a LetsRobot.tv robot talks to, in one process.

* ``http://<host>:<port>``: the info server's discovery routes (``/get_control_host_port/<id>``
  ...), the API server's settings (``/api/v1/robots/<id>``) and the owner's account
  (``/api/v1/accounts/<owner>``: its moderators, ``sim_mod``), and the control surface
  (``/sim/...``, below). Use it as both ``info_server`` and ``api_server``.
* ``port+1`` .. ``port+4``: socket.io servers (python-socketio ``AsyncServer``) standing in for
  the control, chat, app (``app_server``) and user (``user_server``) sockets. Each checks
  that the robot identifies itself (``robot_id`` on control, ``identify_robot_id`` on chat
  and app) and records what the robot emits.
* ``port+5``, ``port+6``: the video and audio relay sinks (``POST /<stream_key>/<w>/<h>/``),
  checking the MPEG-TS they receive (:mod:`robot_bridges.sims.letsrobot_relay`).

With ``--port 0`` every port is picked by the system. A scripted audience
(:mod:`robot_bridges.sims.letsrobot_audience`) plays once a robot identified itself, unless
``--quiet-audience``.

Control surface (JSON bodies): ``GET /sim/state`` (connections, what the robot sent, relay
figures), ``POST /sim/emit`` ``{"socket", "event", "data"}``, ``POST /sim/drop``
``{"socket"}`` (the server ends the robot's sessions), ``POST /sim/discovery``
``{"route", "fault"}`` (faults: ``none``, ``status``, ``not_json``, ``missing``,
``mistyped``, ``port_range``) or ``{"port_shape": "named"|"port"}``, ``POST /sim/settings``
``{"settings": {...}}`` (then ``robot_settings_changed`` on the app socket),
``POST /sim/commands`` ``{"rate_hz"}`` (numbered ``command_to_robot`` at that rate, 0: stop;
:mod:`robot_bridges.sims.letsrobot_load`; ``commands`` in the state counts them),
``POST /sim/move`` ``{"socket": "control"|"chat"}`` (that server moves to a new port: the old
one closes, discovery answers the new one, as when LetsRobot moved a robot's control server),
``POST /sim/video`` ``{"on": bool}`` (the site's ``VIDON`` / ``VIDOFF`` on the app socket;
``video_reported`` in the state is the robot's last ``send_video_status``).

Engine.IO: python-socketio's server speaks protocol 4 only (socket.io 3+); the servers
LetsRobot ran spoke protocol 3, which the conformance tests play with the real npm servers
(``test/peers/letsrobot``).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
import json
import logging
from pathlib import Path
import sys
import time
from typing import Any, Sequence

from aiohttp import web
from robot_bridges.sims import command_line
from robot_bridges.sims import letsrobot_audience as audience
from robot_bridges.sims.letsrobot_load import CommandLoad
from robot_bridges.sims.letsrobot_relay import RelaySink
from robot_bridges.sims.signals import stop_event
import socketio

__all__ = ['LetsRobotSim', 'SOCKETS', 'start', 'main']

SOCKETS = ('control', 'chat', 'app', 'user')
IDENTIFY_EVENTS = {'control': 'robot_id', 'chat': 'identify_robot_id',
                   'app': 'identify_robot_id'}
ROUTES = ('control', 'chat', 'owner', 'relay', 'video_port', 'audio_port', 'settings',
          'account')
FAULTS = ('none', 'status', 'not_json', 'missing', 'mistyped', 'port_range')
DEFAULT_STREAM_KEY = 'sim-stream-key'
DEFAULT_OWNER = 'sim_owner'
DEFAULT_MODERATORS = ('sim_mod',)
AUDIENCE_STEP_S = 0.5
REPORT_PERIOD_S = 5.0
_log = logging.getLogger('letsrobot_sim')


class SocketServer:
    """One socket.io server on its own port, recording its clients and what they emit."""

    def __init__(self, name: str, sim: LetsRobotSim, ping_interval_s: float = 25.0,
                 ping_timeout_s: float = 20.0) -> None:
        self.name = name
        self.sim = sim
        self.ping = (ping_interval_s, ping_timeout_s)
        # Engine.IO liveness: the server pings every ping_interval_s; a client that heard
        # nothing for ping_interval_s + ping_timeout_s drops the session.
        self.sio = socketio.AsyncServer(async_mode='aiohttp', logger=False,
                                        engineio_logger=False, cors_allowed_origins='*',
                                        ping_interval=ping_interval_s,
                                        ping_timeout=ping_timeout_s)
        # A robot in engineio_protocol auto offers Engine.IO 3 first and expects this server's
        # refusal (HTTP 400): an answer, not an error worth a line at every start.
        self.sio.eio.log_message_keys.add('bad-version')
        self.app = web.Application()
        self.sio.attach(self.app)
        self.sids: set[str] = set()
        self.identified: set[str] = set()
        self.connects = 0
        self.identifications = 0
        self.sio.on('connect', self._connect)
        self.sio.on('disconnect', self._disconnect)
        self.sio.on('*', self._event)

    def state(self) -> dict[str, Any]:
        """Return this socket's connections and counters."""
        return {'connected': len(self.sids), 'identified': len(self.identified),
                'connects': self.connects, 'identifications': self.identifications}

    async def emit(self, event: str, data: Any = None, *, no_data: bool = False) -> int:
        """Send ``event`` to every connected robot; return how many."""
        targets = list(self.sids)
        for sid in targets:
            if no_data:
                await self.sio.emit(event, to=sid)
            else:
                await self.sio.emit(event, data, to=sid)
        return len(targets)

    async def drop(self) -> int:
        """End every robot's session from the server side; return how many."""
        targets = list(self.sids)
        for sid in targets:
            await self.sio.disconnect(sid)
        return len(targets)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self.sids.add(sid)
        self.connects += 1

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        self.sids.discard(sid)
        self.identified.discard(sid)

    async def _event(self, event: str, sid: str, *args: Any) -> None:
        data = args[0] if len(args) == 1 else list(args)
        self.sim.record(self.name, event, data)
        if event == IDENTIFY_EVENTS.get(self.name):
            self.identified.add(sid)
            self.identifications += 1
            if isinstance(data, (str, int)) and not isinstance(data, bool):
                self.sim.robot_id = str(data)


class LetsRobotSim:
    """The simulated site: discovery, settings, four sockets, two relays, an audience."""

    def __init__(self, *, host: str = '127.0.0.1', owner: str = DEFAULT_OWNER,
                 stream_key: str = DEFAULT_STREAM_KEY, record_dir: Path | None = None,
                 audience_on: bool = True, step_s: float = AUDIENCE_STEP_S,
                 ping_interval_s: float = 25.0, ping_timeout_s: float = 20.0,
                 announced: dict[str, int] | None = None) -> None:
        self.host = host
        self.owner = owner
        self.audience_on = audience_on
        self.step_s = step_s
        self.robot_id = ''
        self.sockets = {name: SocketServer(name, self, ping_interval_s, ping_timeout_s)
                        for name in SOCKETS}
        # Discovery answers these ports for control/chat instead of the sockets' own (a
        # proxy in front of a socket, in the fault tests).
        self.announced = dict(announced or {})
        self.relays = {kind: RelaySink(kind, stream_key, record_dir)
                       for kind in ('video', 'audio')}
        self.settings: dict[str, Any] = {'xres': 320, 'yres': 240, 'mic_enabled': True,
                                         'custom_panels': False}
        self.moderators = list(DEFAULT_MODERATORS)
        self.faults = dict.fromkeys(ROUTES, 'none')
        self.port_shape = 'named'
        self.requests = dict.fromkeys(ROUTES, 0)
        self.received: deque[dict[str, Any]] = deque(maxlen=5000)
        self.ports: dict[str, int] = {}
        self.moves = dict.fromkeys(('control', 'chat'), 0)
        self._socket_runners: dict[str, web.AppRunner] = {}
        self.audience_steps = 0
        self.load = CommandLoad(
            lambda data: self.sockets['control'].emit('command_to_robot', data))
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task[None]] = []

    # -- starting and stopping -----------------------------------------------------------

    async def start(self, port: int) -> None:
        """Listen on ``port`` (0: any) and the six after it (any, if 0)."""
        main = web.Application()
        self._add_routes(main)
        apps = [('http', main)] + [(name, s.app) for name, s in self.sockets.items()] + [
            (kind, relay.app) for kind, relay in self.relays.items()]
        for offset, (name, app) in enumerate(apps):
            runner = web.AppRunner(app, shutdown_timeout=0.2, handle_signals=False,
                                   access_log=None)
            await runner.setup()
            self._runners.append(runner)
            await web.TCPSite(runner, self.host, port + offset if port else 0).start()
            self.ports[name] = int(runner.addresses[0][1])
            if name in self.sockets:
                self._socket_runners[name] = runner
        if self.audience_on:
            self._tasks.append(asyncio.create_task(self._play()))
        self._tasks.append(asyncio.create_task(self._report()))

    async def move(self, socket_name: str) -> int:
        """Move the control or chat server to a new port (any); return the port."""
        old = self.sockets[socket_name]
        new = SocketServer(socket_name, self, *old.ping)
        new.connects, new.identifications = old.connects, old.identifications
        runner = web.AppRunner(new.app, shutdown_timeout=0.2, handle_signals=False,
                               access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.host, 0).start()
        self.sockets[socket_name] = new
        self.ports[socket_name] = int(runner.addresses[0][1])
        self.announced.pop(socket_name, None)
        self.moves[socket_name] += 1
        old_runner = self._socket_runners[socket_name]
        self._socket_runners[socket_name] = runner
        self._runners[self._runners.index(old_runner)] = runner
        try:
            await asyncio.wait_for(old.drop(), 1.0)
        finally:
            await old_runner.cleanup()
        return self.ports[socket_name]

    def video_reported(self) -> Any:
        """Return the robot's last ``send_video_status`` payload, or None."""
        for item in reversed(self.received):
            if item['event'] == 'send_video_status':
                return item['data']
        return None

    async def close(self) -> None:
        """Stop the audience, end every session and close every port."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.load.stop()
        for server in self.sockets.values():
            try:
                await asyncio.wait_for(server.drop(), 1.0)
            except (asyncio.TimeoutError, Exception) as exc:  # noqa: B902 - best effort
                _log.debug('drop failed: %r', exc)
        for relay in self.relays.values():
            await relay.end_streams(1.0)
        for runner in reversed(self._runners):
            await runner.cleanup()

    def url(self, name: str = 'http') -> str:
        """Return the URL of the main port or of a socket."""
        host = f'[{self.host}]' if ':' in self.host else self.host
        return f'http://{host}:{self.ports[name]}'

    def bridge_parameters(self) -> dict[str, str]:
        """Return the bridge parameters that point it at this simulator."""
        return {'info_server': self.url(), 'api_server': self.url(),
                'app_server': self.url('app'), 'user_server': self.url('user'),
                'relay_scheme': 'http'}

    # -- what the robot sent ----------------------------------------------------------------

    def record(self, socket_name: str, event: str, data: Any) -> None:
        """Remember one event the robot emitted, and print the ones worth seeing."""
        self.received.append({'socket': socket_name, 'event': event, 'data': data,
                              'time': time.time()})
        if event in ('send_video_status', 'charge_state') or event in IDENTIFY_EVENTS.values():
            print(f'letsrobot_sim: {socket_name}: {event} {json.dumps(data)[:200]}', flush=True)

    def state(self) -> dict[str, Any]:
        """Return everything the control surface reports."""
        return {
            'robot_id': self.robot_id, 'owner': self.owner, 'ports': self.ports,
            'sockets': {name: s.state() for name, s in self.sockets.items()},
            'received': list(self.received)[-500:], 'requests': self.requests,
            'relays': {kind: relay.summary() for kind, relay in self.relays.items()},
            'audience_steps': self.audience_steps, 'settings': self.settings,
            'commands': self.load.state(), 'moves': self.moves,
            'video_reported': self.video_reported(),
        }

    async def emit(self, socket_name: str, event: str, data: Any = None,
                   no_data: bool = False) -> int:
        """Send an event on one socket to every robot; ``settings`` means the app socket."""
        if socket_name == 'settings':
            if isinstance(data, dict):
                self.settings.update(data)
            return await self.sockets['app'].emit(event, {'robot_id': self.robot_id})
        return await self.sockets[socket_name].emit(event, data, no_data=no_data)

    # -- HTTP: discovery, settings, control surface --------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        add = app.router.add_get
        add('/get_control_host_port/{id}', self._route('control'))
        add('/get_chat_host_port/{id}', self._route('chat'))
        add('/get_robot_owner/{id}', self._route('owner'))
        add('/get_websocket_relay_host/{id}', self._route('relay'))
        add('/get_video_port/{id}', self._route('video_port'))
        add('/get_audio_port/{id}', self._route('audio_port'))
        add('/api/v1/robots/{id}', self._route('settings'))
        add('/api/v1/accounts/{owner}', self._route('account'))
        add('/sim/state', self._state)
        app.router.add_post('/sim/emit', self._emit)
        app.router.add_post('/sim/drop', self._drop)
        app.router.add_post('/sim/discovery', self._discovery)
        app.router.add_post('/sim/settings', self._settings)
        app.router.add_post('/sim/commands', self._commands)
        app.router.add_post('/sim/move', self._move)
        app.router.add_post('/sim/video', self._video)

    def _answer(self, route: str) -> dict[str, Any]:
        if route in ('control', 'chat'):
            return {'host': self.host, 'port': self.announced.get(route, self.ports[route])}
        if route == 'owner':
            return {'owner': self.owner}
        if route == 'relay':
            return {'host': self.host}
        if route == 'account':
            return {'username': self.owner, 'moderators': list(self.moderators)}
        if route in ('video_port', 'audio_port'):
            kind = route.split('_')[0]
            named = 'mpeg_stream_port' if kind == 'video' else 'audio_stream_port'
            return {named if self.port_shape == 'named' else 'port': self.ports[kind]}
        return dict(self.settings)

    def _route(self, route: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            self.requests[route] += 1
            fault = self.faults[route]
            answer = self._answer(route)
            if fault == 'status':
                return web.Response(status=503, text='service unavailable\n')
            if fault == 'not_json':
                return web.Response(text='<html>maintenance</html>', content_type='text/html')
            if fault == 'missing':
                answer = {}
            elif fault == 'mistyped':
                answer = {key: [value] for key, value in answer.items()}
            elif fault == 'port_range':
                answer = {key: 70000 if 'port' in key else value
                          for key, value in answer.items()}
            return web.json_response(answer)
        return handle

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _emit(self, request: web.Request) -> web.Response:
        body = await _body(request)
        socket_name = body.get('socket')
        if socket_name not in (*SOCKETS, 'settings') or not isinstance(body.get('event'), str):
            raise web.HTTPBadRequest(text='need "socket" (control, chat, app, user) and "event"')
        sent = await self.emit(socket_name, body['event'], body.get('data'),
                               no_data='data' not in body)
        return web.json_response({'sent_to': sent})

    async def _drop(self, request: web.Request) -> web.Response:
        socket_name = (await _body(request)).get('socket')
        if socket_name not in SOCKETS:
            raise web.HTTPBadRequest(text='need "socket": control, chat, app or user')
        return web.json_response({'dropped': await self.sockets[socket_name].drop()})

    async def _discovery(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if 'port_shape' in body:
            if body['port_shape'] not in ('named', 'port'):
                raise web.HTTPBadRequest(text='port_shape: named or port')
            self.port_shape = body['port_shape']
        if 'route' in body:
            if body['route'] not in ROUTES or body.get('fault') not in FAULTS:
                raise web.HTTPBadRequest(text=f'route: one of {ROUTES}; fault: one of {FAULTS}')
            self.faults[body['route']] = body['fault']
        return web.json_response({'faults': self.faults, 'port_shape': self.port_shape})

    async def _settings(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if not isinstance(body.get('settings'), dict):
            raise web.HTTPBadRequest(text='need "settings": {...}')
        sent = await self.emit('settings', 'robot_settings_changed', body['settings'])
        return web.json_response({'sent_to': sent})

    async def _commands(self, request: web.Request) -> web.Response:
        rate_hz = (await _body(request)).get('rate_hz')
        if isinstance(rate_hz, bool) or not isinstance(rate_hz, (int, float)):
            raise web.HTTPBadRequest(text='need "rate_hz": a number (0: stop)')
        try:
            await self.load.set_rate(self.robot_id, float(rate_hz))
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f'{exc}\n') from None
        return web.json_response(self.load.state())

    async def _move(self, request: web.Request) -> web.Response:
        socket_name = (await _body(request)).get('socket')
        if socket_name not in ('control', 'chat'):
            raise web.HTTPBadRequest(text='need "socket": control or chat')
        return web.json_response({'port': await self.move(socket_name)})

    async def _video(self, request: web.Request) -> web.Response:
        on = (await _body(request)).get('on')
        if not isinstance(on, bool):
            raise web.HTTPBadRequest(text='need "on": true or false')
        command = audience.command(self.robot_id, 'site', 'VIDON' if on else 'VIDOFF', '')
        return web.json_response({'sent_to': await self.emit('app', 'command_to_robot',
                                                             command)})

    async def _report(self) -> None:
        """Print each relay's open stream every REPORT_PERIOD_S: valid, size, bitrate."""
        while True:
            await asyncio.sleep(REPORT_PERIOD_S)
            for kind, relay in self.relays.items():
                last = relay.summary()['last']
                if last is None or not last['open']:
                    continue
                what = (f'MPEG-1 {last["coded_size"][0]}x{last["coded_size"][1]}'
                        if kind == 'video' else f'MP2, {last["mp2_frames"]} frames')
                verdict = 'valid' if last['valid'] else 'INVALID'
                print(f'letsrobot_sim: {kind} relay: {verdict} {what}, {last["kbps"]:.0f} '
                      f'kbit/s over {last["seconds"]:.0f} s, {last["packets"]} packets, '
                      f'{last["sync_errors"]} sync errors', flush=True)

    # -- the audience --------------------------------------------------------------------

    async def _play(self) -> None:
        round_ = 0
        while True:
            while not self.robot_id or not self.sockets['control'].identified:
                await asyncio.sleep(self.step_s)
            round_ += 1
            for socket_name, event, data in audience.script(self.robot_id, self.owner, round_):
                await asyncio.sleep(self.step_s)
                try:
                    await self.emit(socket_name, event, data)
                except Exception as exc:  # noqa: B902 - a robot that vanished mid-emit
                    _log.debug('audience emit failed: %r', exc)
                self.audience_steps += 1


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='body is not JSON') from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='body is not a JSON object')
    return body


async def start(host: str = '127.0.0.1', port: int = 0, **options: Any) -> LetsRobotSim:
    """Start a simulator (see :class:`LetsRobotSim` for the options); port 0: any ports."""
    sim = LetsRobotSim(host=host, **options)
    try:
        await sim.start(port)
    except BaseException:
        await sim.close()
        raise
    return sim


async def serve_until_signalled(args: argparse.Namespace) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = stop_event()
    sim = await start(args.host, args.port, owner=args.owner, stream_key=args.stream_key,
                      record_dir=Path(args.record) if args.record else None,
                      audience_on=not args.quiet_audience,
                      ping_interval_s=args.ping_interval, ping_timeout_s=args.ping_timeout,
                      announced=dict(args.announce))
    for route, fault in args.discovery_fault:
        sim.faults[route] = fault
    print(f'letsrobot_sim: listening on {sim.url()}', flush=True)
    params = ' '.join(f'-p {k}:={v}' for k, v in sim.bridge_parameters().items())
    print(f'letsrobot_sim: bridge parameters: {params} (and the stream_key given with '
          '--stream-key)', flush=True)
    await stop.wait()
    await sim.close()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1',
                        help='interface to bind (0.0.0.0 for all: ask for it explicitly)')
    parser.add_argument('--port', type=int, default=8100,
                        help='HTTP port; the sockets and relays take the next six (0: any)')
    parser.add_argument('--owner', default=DEFAULT_OWNER, help="the robot owner's name")
    parser.add_argument('--stream-key', default=DEFAULT_STREAM_KEY,
                        help='the stream key the relays accept')
    parser.add_argument('--record', metavar='DIR', default='',
                        help='write every received stream to DIR/<video|audio>-*.ts')
    parser.add_argument('--quiet-audience', action='store_true',
                        help='no scripted commands and chat; only what /sim/emit sends')
    parser.add_argument('--discovery-fault', metavar='ROUTE:FAULT', action='append',
                        default=[], type=_route_fault,
                        help=f'answer ROUTE ({", ".join(ROUTES)}) with FAULT '
                             f'({", ".join(FAULTS)}) from the start (repeatable)')
    parser.add_argument('--announce', metavar='SOCKET:PORT', action='append', default=[],
                        type=_announced,
                        help='discovery answers PORT for SOCKET (control or chat) instead of '
                             'its own port, e.g. a proxy in front of it (repeatable)')
    parser.add_argument('--ping-interval', type=float, default=25.0,
                        help='Engine.IO ping interval of every socket, whole seconds')
    parser.add_argument('--ping-timeout', type=float, default=20.0,
                        help='Engine.IO ping timeout of every socket, whole seconds')
    args = command_line.parse_args(parser, argv)
    # Engine.IO announces whole seconds (python-engineio truncates 0.5 to 0).
    if not (1 <= args.ping_interval <= 3600 and 1 <= args.ping_timeout <= 3600):
        parser.error('--ping-interval and --ping-timeout must be in 1..3600')
    if not 0 <= args.port <= 65535 - 6:
        parser.error('--port must be in 0..65529')
    return args


def _route_fault(text: str) -> tuple[str, str]:
    route, _, fault = text.partition(':')
    if route not in ROUTES or fault not in FAULTS:
        raise argparse.ArgumentTypeError(f'expected ROUTE:FAULT, ROUTE one of {ROUTES}, '
                                         f'FAULT one of {FAULTS}')
    return route, fault


def _announced(text: str) -> tuple[str, int]:
    socket_name, _, port = text.partition(':')
    if socket_name not in ('control', 'chat') or not port.isdigit() or \
            not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError('expected SOCKET:PORT, SOCKET control or chat, '
                                         'PORT in 1..65535')
    return socket_name, int(port)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ros2 run robot_bridges letsrobot_sim``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='letsrobot_sim: %(message)s')
    try:
        asyncio.run(serve_until_signalled(args))
    except OSError as exc:
        print(f'letsrobot_sim: cannot listen on {args.host}:{args.port}..{args.port + 6}: '
              f'{exc.strerror or exc}', file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
