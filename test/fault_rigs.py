"""
The fault matrix's rigs: one bridge, its real simulator and a fault proxy between them.

A rig starts the service (the simulator process) on a fixed port, a
:class:`~fault_proxy.FaultProxy` in front of it, and the bridge (dialling the proxy; for
Reachy the simulator dials the proxy, which forwards to the bridge). It drives traffic from
the service to the bridge (``traffic``) with a sequence number in every message, so that a
gap on the ROS topic (``stream``) is a loss, and queues output the other way while the link
is down (``queue_output`` / ``output_delivered``).
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time
from typing import Any, Callable

import explain
from fault_proxy import FaultProxy
from letsrobot_helpers import bridge_params, ROBOT_ID, SimControl, STREAM_KEY
from robot_bridges.msg import DfxChunk, DfxResult, LetsRobotCommand, MicDirection
from robot_bridges.msg import RobotChatMessage
from robot_bridges.srv import DfxSubscribeResults
from ros_helpers import Collector, Diagnostics, free_port, ProbeNode, Proc, steady, wait_for
from sensor_msgs.msg import BatteryState, JointState
from std_msgs.msg import Bool, String
from websockets.asyncio.client import connect

RECONNECT_MAX_S = 1.0
FAST = {'reconnect_min_s': 0.1, 'reconnect_max_s': RECONNECT_MAX_S}
PING = {'ping_interval_s': 0.5, 'ping_timeout_s': 0.5}
DFX_TOKEN = 'tok-fault-matrix-0123'
#: The diagnostic values a failed cell shows.
DIAGNOSED = ('connected', 'lifecycle_state', 'messages_in', 'messages_out', 'reconnects',
             'link_aborts', 'decode_errors', 'dropped', 'last_error', 'outbox_queued', '_message')


class Rig:
    """What every cell needs of a bridge under test; subclasses fill in the service."""

    executable = ''
    node = ''
    stream_topic = ''
    stream_type: Any = None
    #: The proxy direction from the service to the bridge.
    to_bridge = 'down'
    #: Seconds from a silent service to an aborted link.
    liveness_s = PING['ping_interval_s'] + PING['ping_timeout_s']
    #: The bridge parameters that make the liveness check quick (service_stops_reading
    #: only: elsewhere a slow machine must not cycle the link).
    liveness_params: dict[str, Any] = PING
    #: The counter in diagnostics that the liveness check raises when it drops the link.
    liveness_counter = 'link_aborts'
    #: Whether a connect attempt that times out shows in diagnostics' last_error.
    reports_connect_timeout = True
    #: Whether the service drops what it cannot deliver at once (the Robot Chat relay does
    #: while a client is alone): queued output needs a reader there first.
    needs_reader = False
    #: Whether the service dials the bridge (Reachy): its start-up is part of a recovery.
    service_dials = False

    def __init__(self, procs: Callable[..., Proc], ros: ProbeNode, ns: str) -> None:
        self.procs = procs
        self.ros = ros
        self.ns = ns
        self.fqn = f'{ns}/{self.node}'
        # The node's own connected: the namespace's may be another node's (webviz_bridge).
        self.connected: Collector[Bool] = ros.subscribe_latched(Bool, f'{self.fqn}/connected')
        self.stream: Collector[Any] = ros.subscribe(self.stream_type,
                                                    f'{ns}/{self.stream_topic}')
        self.diagnostics = Diagnostics(ros)
        self.service: Proc | None = None
        self.bridge: Proc | None = None
        self.proxy: FaultProxy | None = None
        self._keys: list[int] = []  # of the stream's messages, see keys()
        self._traffic: threading.Event | None = None
        self._traffic_thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        self._events: list[tuple[float, str]] = []
        explain.track(self)

    def mark(self, event: str) -> float:
        """Note a step of the cell (shown if it fails); return when it was noted."""
        now = time.monotonic()
        self._events.append((now, event))
        return now

    def explain(self) -> str:
        """Return the cell's steps and the connected history on one time line, and diagnostics."""
        timeline = sorted([*self._events, *(
            (when, f'{self.ns}/connected {msg.data}')
            for when, msg in zip(list(self.connected.times), list(self.connected.messages)))])
        lines = [f'{when - self._t0:8.3f} s  {what}' for when, what in timeline]
        values = self.diagnostics.values(self.fqn)
        shown = {k: v for k, v in values.items() if k in DIAGNOSED}
        return (f'--- rig {type(self).__name__} {self.fqn} (service port '
                f'{getattr(self, "service_port", "?")}): stream {self.stream_topic} '
                f'{len(self.stream)} messages\n' + '\n'.join(lines) +
                f'\nnewest diagnostics: {shown or "none"}')

    # -- life ----------------------------------------------------------------------------

    def start(self, **bridge_params: Any) -> None:
        """Start service, proxy and bridge; return once the bridge is connected."""
        self.service_port = free_port()
        self.proxy = FaultProxy('127.0.0.1', self.upstream_port())
        self.start_service()
        self.bridge = self.start_bridge(**bridge_params)
        self.ros.wait_publishers(f'{self.ns}/{self.stream_topic}', timeout=30)
        self.wait_up(0.0, 30)

    def close(self) -> None:
        """Stop the traffic and the proxy (the processes are the procs fixture's)."""
        self.traffic(False)
        if self.proxy is not None:
            self.proxy.close()

    def upstream_port(self) -> int:
        """Return the port the proxy forwards to."""
        return self.service_port

    def start_service(self) -> float:
        """
        Start the simulator; return when it was ready (time.monotonic()).

        That is when its ready line was read (:meth:`Proc.printed_at`), not when a wait for it
        returned: a bridge with a short backoff may be connected again in between.
        """
        raise NotImplementedError

    def _ready(self, pattern: str, timeout: float) -> float:
        """Wait for the service to print ``pattern``; return when that line was read."""
        assert self.service is not None
        self.service.wait_output(pattern, timeout)
        return self.service.printed_at(pattern)

    def start_bridge(self, **params: Any) -> Proc:
        raise NotImplementedError

    def kill_service(self) -> None:
        """SIGKILL the simulator."""
        assert self.service is not None
        self.service.kill()
        self.mark('service SIGKILLed')

    # -- observation ---------------------------------------------------------------------

    def values(self, predicate: Callable[[dict[str, str]], bool],
               timeout: float = 20.0) -> dict[str, str]:
        """Wait until the bridge's diagnostics satisfy ``predicate``."""
        return self.diagnostics.wait(self.fqn, predicate, timeout)

    def counter(self, key: str) -> int:
        """Return a counter from the newest diagnostics (0 before any)."""
        return int(self.values(lambda v: key in v).get(key, 0))

    def wait_up(self, after: float, timeout: float = 20.0) -> float:
        """Wait for ``connected`` true published after ``after``; return when it arrived."""
        def up() -> float | None:
            times, messages = list(self.connected.times), list(self.connected.messages)
            for when, msg in zip(times, messages):
                if when > after and msg.data:
                    return when
            return None
        return wait_for(up, timeout, f'{self.ns} connected after the fault')

    def wait_down(self, timeout: float = 20.0) -> None:
        """Wait for ``connected`` false."""
        wait_for(lambda: self.connected.messages and not self.connected.last.data, timeout,
                 f'{self.ns} disconnected')

    def wait_flowing(self, after: float, timeout: float = 20.0) -> float:
        """Wait for a stream message that arrived after ``after``; return when."""
        def arrived() -> float | None:
            late = [t for t in list(self.stream.times) if t > after]
            return late[0] if late else None
        return wait_for(arrived, timeout, f'{self.stream_topic} flowing')

    def seq(self, msg: Any) -> int | None:
        """Return the sequence number the service gave this stream message (None: none)."""
        return None

    def stream_lost(self) -> int | None:
        """Return the sequence numbers missing on the stream so far (None: not countable)."""
        seqs = {s for s in (self.seq(m) for m in list(self.stream.messages)) if s is not None}
        if not seqs:
            return None
        return max(seqs) - min(seqs) + 1 - len(seqs)

    # -- traffic, service to bridge ------------------------------------------------------

    def traffic(self, on: bool) -> None:
        """Start or stop the service's traffic to the bridge."""
        if on and self._traffic is None:
            self._traffic = threading.Event()
            self._traffic_thread = threading.Thread(target=self._drive, args=(self._traffic,),
                                                    daemon=True)
            self._traffic_thread.start()
        elif not on and self._traffic is not None:
            self._traffic.set()
            assert self._traffic_thread is not None
            self._traffic_thread.join(10)
            self._traffic = self._traffic_thread = None

    def _drive(self, stop: threading.Event) -> None:
        """Send traffic until ``stop`` is set (a thread); by default the service's own."""
        stop.wait()

    # -- output, bridge to service, queued while down ------------------------------------

    def queue_output(self) -> int:
        """Publish output for the service while the link is down; return how many."""
        return 0

    def output_delivered(self, count: int, timeout: float = 20.0) -> int:
        """Wait for ``count`` queued outputs at the service; return how many arrived."""
        return 0

    def listen(self) -> None:
        """Put a reader of the output on the service (see ``needs_reader``)."""

    def reidentified(self) -> bool:
        """Whether the bridge identified itself again on the new connection."""
        return True

    # -- the stalled subscriber ----------------------------------------------------------
    # Stream messages are told apart by a key that grows with publication: by default the
    # header stamp (the bridges stamp with the system clock), in nanoseconds.

    #: What stall_subscriber.py reports of each message it takes (its KEY argument).
    stall_key = 'stamp'

    def keys(self) -> list[int]:
        """Return the keys of the stream's messages so far (decoded once each)."""
        keys, messages = self._keys, self.stream.messages
        keys.extend(self.key(msg) for msg in messages[len(keys):len(messages)])
        return keys

    def key(self, msg: Any) -> int:
        """Return a stream message's key."""
        return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec

    def reported_key(self, value: Any) -> int:
        """Return the key of what stall_subscriber.py reported of a message."""
        return int(value)

    def key_span(self, seconds: float) -> float:
        """Return how far the key moves in ``seconds``."""
        return seconds * 1e9

    def stall_start(self, answer: dict[str, Any]) -> int:
        """Return the first key published once the subscriber had stopped taking."""
        return int(answer['at_ns'])

    def quiesce(self) -> int | None:
        """Before the subscriber resumes: hold the stream if keys are not times (see WebViz)."""
        return None

    def unquiesce(self) -> None:
        """Once the subscriber resumed: release what :meth:`quiesce` held."""

    def stall_end(self, answer: dict[str, Any], settled: int | None) -> int:
        """Return the last key published before the subscriber takes again."""
        return int(answer['at_ns'])


class _Thread:
    """An asyncio loop in a daemon thread, for clients of a service in the test process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def submit(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.submit(cancel_all()).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


# -- Robot Chat ------------------------------------------------------------------------------


class RobotChatRig(Rig):
    """robot_chat_server <- proxy <- robot_chat_bridge; a peer on the relay sends and reads."""

    executable = 'robot_chat_bridge'
    node = 'robot_chat_bridge'
    stream_topic = 'inbox'
    stream_type = RobotChatMessage
    needs_reader = True
    RATE_HZ = 200.0

    def start_service(self) -> float:
        self.service = self.procs('robot_chat_server', '--port', str(self.service_port))
        return self._ready(r'listening on', 15)

    def start_bridge(self, **params: Any) -> Proc:
        return self.procs(self.executable, namespace=self.ns, params={
            'url': f'ws://127.0.0.1:{self.proxy.port}', 'qos_depth': 1000, **FAST,
            **params})

    def seq(self, msg: Any) -> int | None:
        value = json.loads(msg.json)
        return value.get('n') if value.get('type') == 'seq' else None

    def _drive(self, stop: threading.Event) -> None:
        async def send() -> None:
            async with connect(f'ws://127.0.0.1:{self.service_port}') as ws:
                n = 0
                start = time.monotonic()
                while not stop.is_set():
                    await ws.send(json.dumps({'type': 'seq', 'n': n}))
                    n += 1
                    await asyncio.sleep(max(start + n / self.RATE_HZ - time.monotonic(), 0))
        asyncio.run(send())

    def queue_output(self) -> int:
        outbox = self.ros.publisher(RobotChatMessage, f'{self.ns}/outbox')
        for n in range(5):
            outbox.publish(RobotChatMessage(json=json.dumps({'type': 'queued', 'n': n})))
        self.values(lambda v: v['outbox_queued'] == '5')
        return 5

    def listen(self) -> None:
        """Put a reader on the relay (directly): the relay drops what nobody can receive."""
        self._listener = _Thread()
        self._heard: list[int] = []
        greeted = threading.Event()

        async def read() -> None:
            async with connect(f'ws://127.0.0.1:{self.service_port}') as ws:
                greeted.set()
                async for frame in ws:
                    value = json.loads(frame)
                    if value.get('type') == 'queued':
                        self._heard.append(value['n'])
        self._listener.submit(read())
        assert greeted.wait(10), 'the reader could not join the relay'

    def output_delivered(self, count: int, timeout: float = 20.0) -> int:
        try:
            wait_for(lambda: len(self._heard) >= count, timeout, 'the queued outbox')
        except AssertionError:
            pass
        heard = len(self._heard)
        self._listener.close()
        return heard


# -- Victor mic ------------------------------------------------------------------------------


class VictorMicRig(Rig):
    """victor_sim <- proxy <- victor_mic_bridge; the simulator pushes micdata at RATE_HZ."""

    executable = 'victor_mic_bridge'
    node = 'victor_mic_bridge'
    stream_topic = 'mic_direction'
    stream_type = MicDirection
    RATE_HZ = 200.0

    def start_service(self) -> float:
        self.service = self.procs('victor_sim', '--port', str(self.service_port), '--rate',
                                  str(self.RATE_HZ))
        return self._ready(r'listening on', 15)

    def start_bridge(self, **params: Any) -> Proc:
        return self.procs(self.executable, namespace=self.ns, params={
            'port': self.proxy.port, 'qos_depth': 1000, **FAST, **params})

    def seq(self, msg: Any) -> int | None:
        return round(msg.robot_time * self.RATE_HZ)


class WebVizRig(VictorMicRig):
    """victor_sim <- proxy <- webviz_bridge (micdata and intents as JSON string topics)."""

    executable = 'webviz_bridge'
    node = 'webviz_bridge'
    stream_topic = 'webviz/micdata'
    stream_type = String
    # The pushes carry no stamp: the key is the simulator's sample number.
    stall_key = 'data:time'

    def __init__(self, procs: Callable[..., Proc], ros: ProbeNode, ns: str) -> None:
        super().__init__(procs, ros, ns)
        self.intents: Collector[String] = ros.subscribe(String, f'{ns}/webviz/intents')

    def start_bridge(self, **params: Any) -> Proc:
        return self.procs(self.executable, namespace=self.ns, params={
            'port': self.proxy.port, 'modules': ['micdata', 'intents'], 'qos_depth': 1000,
            **FAST, **params})

    def seq(self, msg: Any) -> int | None:
        return self.key(msg)

    def key(self, msg: Any) -> int:
        return self.reported_key(json.loads(msg.data)['time'])

    def reported_key(self, value: Any) -> int:
        return round(float(value) * self.RATE_HZ)

    def key_span(self, seconds: float) -> float:
        return seconds * self.RATE_HZ

    def stall_start(self, answer: dict[str, Any]) -> int:
        return self.reported_key(answer['last']) + 1

    def quiesce(self) -> int | None:
        """
        Hold the pushes at the proxy until the probe has them all; return the newest key.

        Sample numbers are not times: what was published before the subscriber resumed is
        known only once nothing more is on its way.
        """
        assert self.proxy is not None
        self.proxy.stall(self.to_bridge)
        wait_for(steady(lambda: len(self.stream)), 10, 'the pushes to settle')
        return max(self.keys())

    def unquiesce(self) -> None:
        assert self.proxy is not None
        self.proxy.resume()

    def stall_end(self, answer: dict[str, Any], settled: int | None) -> int:
        assert settled is not None
        return settled

    def queue_output(self) -> int:
        """Queue cloud-intent requests: the simulator answers each with an intents push."""
        request = self.ros.publisher(String, f'{self.ns}/webviz/intents/request')
        self._queued = [f'fault-queued-{n}' for n in range(3)]
        for value in self._queued:
            request.publish(String(data=json.dumps({'intentType': 'cloud',
                                                    'request': value})))
        self.values(lambda v: v['outbox_queued'] == '3')
        return 3

    def output_delivered(self, count: int, timeout: float = 20.0) -> int:
        def answered() -> set[str]:
            return {blob.get('value') for msg in list(self.intents.messages)
                    for blob in json.loads(msg.data) if isinstance(blob, dict)}
        try:
            wait_for(lambda: set(self._queued) <= answered(), timeout, 'the queued requests')
        except AssertionError:
            pass
        return len(set(self._queued) & answered())


# -- DFX -------------------------------------------------------------------------------------


class DfxRig(Rig):
    """dfx_sim <- proxy <- dfx_bridge; chunks go in from ROS, their results come back."""

    executable = 'dfx_bridge'
    node = 'dfx_bridge'
    stream_topic = 'results'
    stream_type = DfxResult
    RATE_HZ = 50.0
    MEASUREMENT = 'fault-m'

    def __init__(self, procs: Callable[..., Proc], ros: ProbeNode, ns: str) -> None:
        super().__init__(procs, ros, ns)
        self._order = 0
        self._chunks: Any = None
        self._lock = threading.Lock()

    def start_service(self) -> float:
        self.service = self.procs('dfx_sim', '--port', str(self.service_port), '--token',
                                  DFX_TOKEN, '--processing-delay-s', '0')
        return self._ready(r'listening on', 15)

    def start_bridge(self, **params: Any) -> Proc:
        bridge = self.procs(self.executable, namespace=self.ns, params={
            'url': f'ws://127.0.0.1:{self.proxy.port}', 'token': DFX_TOKEN,
            'pace_chunks': False, 'auth_action': True, 'chunk_queue_size': 1000,
            'request_timeout_s': 30.0, **FAST, **params})
        return bridge

    def start(self, **bridge_params: Any) -> None:
        super().start(**bridge_params)
        self._chunks = self.ros.publisher(DfxChunk, f'{self.ns}/chunks')
        answer = self.ros.call(DfxSubscribeResults, f'{self.ns}/subscribe_results',
                               DfxSubscribeResults.Request(measurement_id=self.MEASUREMENT), 30)
        assert answer.success, answer.message

    def seq(self, msg: Any) -> int | None:
        return int(msg.chunk_order)

    def send_chunk(self) -> None:
        """Publish the measurement's next chunk."""
        with self._lock:
            order = self._order
            self._order += 1
        self._chunks.publish(DfxChunk(
            measurement_id=self.MEASUREMENT, chunk_order=order, last=False,
            start_time=order * 20, end_time=(order + 1) * 20, duration=0.02,
            payload=bytes([order % 256]) * 200, meta='{"FrameRate": 30}'))

    def _drive(self, stop: threading.Event) -> None:
        start = time.monotonic()
        sent = 0
        while not stop.is_set():
            self.send_chunk()
            sent += 1
            stop.wait(max(start + sent / self.RATE_HZ - time.monotonic(), 0))

    def queue_output(self) -> int:
        self._queued_from = self._order
        for _ in range(3):
            self.send_chunk()
        self.values(lambda v: v['chunks_queued'] == '3')
        return 3

    def output_delivered(self, count: int, timeout: float = 20.0) -> int:
        wanted = set(range(self._queued_from, self._queued_from + count))

        def got() -> set[int]:
            return wanted & {m.chunk_order for m in list(self.stream.messages)}
        try:
            wait_for(lambda: got() == wanted, timeout, 'results of the queued chunks')
        except AssertionError:
            pass
        return len(got())


# -- LetsRobot -------------------------------------------------------------------------------


def free_port_run(count: int) -> int:
    """Return the first of ``count`` consecutive free ports (for letsrobot_sim --port)."""
    for _ in range(50):
        base = free_port()
        if base + count > 65535:
            continue
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(('127.0.0.1', port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise AssertionError(f'no {count} consecutive free ports')


class LetsRobotRig(Rig):
    """letsrobot_sim (control socket behind the proxy) <- letsrobot_bridge."""

    executable = 'letsrobot_bridge'
    node = 'letsrobot_bridge'
    stream_topic = 'command'
    stream_type = LetsRobotCommand
    RATE_HZ = 50.0
    # Engine.IO announces whole seconds: the server pings every 1 s, the client gives up
    # after interval + timeout without one.
    liveness_s = 2.0
    liveness_params: dict[str, Any] = {}
    liveness_counter = ''
    reports_connect_timeout = False

    def start(self, **bridge_params: Any) -> None:
        self.base_port = free_port_run(7)
        super().start(**bridge_params)

    def upstream_port(self) -> int:
        return self.base_port + 1  # the control socket

    def start_service(self) -> float:
        assert self.proxy is not None
        self.service = self.procs(
            'letsrobot_sim', '--port', str(self.base_port), '--stream-key', STREAM_KEY,
            '--quiet-audience', '--announce', f'control:{self.proxy.port}',
            '--ping-interval', '1', '--ping-timeout', '1')
        ready = self._ready(r'bridge parameters', 20)
        self.sim = SimControl(f'http://127.0.0.1:{self.base_port}')
        return ready

    def start_bridge(self, **params: Any) -> Proc:
        sim_params = {'info_server': f'http://127.0.0.1:{self.base_port}',
                      'api_server': f'http://127.0.0.1:{self.base_port}',
                      'app_server': f'http://127.0.0.1:{self.base_port + 3}',
                      'user_server': f'http://127.0.0.1:{self.base_port + 4}',
                      'relay_scheme': 'http'}
        return self.procs(self.executable, namespace=self.ns,
                          params=bridge_params(sim_params, **FAST, **params))

    def seq(self, msg: Any) -> int | None:
        return int(msg.user[1:]) if msg.user.startswith('u') else None

    def _drive(self, stop: threading.Event) -> None:
        n = 0
        start = time.monotonic()
        while not stop.is_set():
            try:
                self.sim.emit('control', 'command_to_robot', {
                    'robot_id': ROBOT_ID, 'command': 'F', 'user': f'u{n}',
                    'key_position': 'down'})
            except OSError:
                pass  # the simulator is down: that command is never sent
            n += 1
            stop.wait(max(start + n / self.RATE_HZ - time.monotonic(), 0))

    def queue_output(self) -> int:
        battery = self.ros.publisher(BatteryState, f'{self.ns}/battery_state')
        battery.publish(BatteryState(
            power_supply_status=BatteryState.POWER_SUPPLY_STATUS_CHARGING))
        self.values(lambda v: v['charge_state_sent'] != '0')
        return 1

    def output_delivered(self, count: int, timeout: float = 20.0) -> int:
        try:
            wait_for(lambda: self.sim.received('charge_state', 'app'), timeout, 'charge_state')
        except AssertionError:
            return 0
        return 1

    def reidentified(self) -> bool:
        wait_for(lambda: self.sim.identifications().get('control', 0) >= 1, 20,
                 'the robot identified on control')
        return True


# -- Reachy ----------------------------------------------------------------------------------


class ReachyRig(Rig):
    """reachy_sim -> proxy -> reachy_bridge (the bridge serves; the simulator dials)."""

    executable = 'reachy_bridge'
    node = 'reachy_bridge'
    stream_topic = 'joint_states'
    stream_type = JointState
    to_bridge = 'up'
    service_dials = True
    RATE_HZ = 200.0
    # A silent client is kept (a paused Unity); one whose connection is gone (no pong) is not.
    liveness_params: dict[str, Any] = PING
    liveness_counter = 'link_aborts'
    reports_connect_timeout = False
    TARGET = {'l_antenna': -40.0}

    def start(self, **bridge_params: Any) -> None:
        self.service_port = free_port()  # the bridge's port, here
        self.proxy = FaultProxy('127.0.0.1', self.service_port)
        self.bridge = self.start_bridge(**bridge_params)
        self.start_service()
        self.ros.wait_publishers(f'{self.ns}/{self.stream_topic}', timeout=30)
        self.wait_up(0.0, 30)

    def start_service(self) -> float:
        assert self.proxy is not None
        self.service = self.procs('reachy_sim', '--url', f'ws://127.0.0.1:{self.proxy.port}',
                                  '--status-period', '0', '--rate', str(self.RATE_HZ),
                                  '--eye-size', '64x48')
        return time.monotonic()

    def start_bridge(self, **params: Any) -> Proc:
        return self.procs(self.executable, namespace=self.ns, params={
            'port': self.service_port, 'qos_depth': 1000, **FAST, **params})

    def queue_output(self) -> int:
        commands = self.ros.publisher(JointState, f'{self.ns}/joint_commands')
        commands.publish(JointState(name=list(self.TARGET),
                                    position=[math.radians(v) for v in self.TARGET.values()]))
        self.values(lambda v: v['commands'] == '1')
        return 1

    def output_delivered(self, count: int, timeout: float = 20.0) -> int:
        def at_target() -> bool:
            for msg in list(self.stream.messages)[-5:]:
                positions = dict(zip(msg.name, msg.position))
                if all(abs(math.degrees(positions[k]) - v) < 0.5
                       for k, v in self.TARGET.items()):
                    return True
            return False
        try:
            wait_for(at_target, timeout, 'the simulator at the goal queued while it was away')
        except AssertionError:
            return 0
        return 1


RIGS: dict[str, type[Rig]] = {
    'robot_chat_bridge': RobotChatRig,
    'victor_mic_bridge': VictorMicRig,
    'webviz_bridge': WebVizRig,
    'dfx_bridge': DfxRig,
    'letsrobot_bridge': LetsRobotRig,
    'reachy_bridge': ReachyRig,
}
