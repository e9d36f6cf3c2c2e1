"""
Soak: all five bridges against their simulators at their benchmark rates, for minutes.

Every simulator, bridge, load and counting subscriber is its own process, started from the
install (``--single-process``: the five bridges are nodes of one robot_bridges_container).
Streams (each counted by a ``soak_counter.py`` process on the bridge's output topic):

* Robot Chat: a load client in this process sends 1,000 numbered objects/s through the relay
  (``robot_chat_server``) -> ``robot_chat_bridge`` -> ``/soak/robot_chat/inbox``;
* Victor mic: ``victor_sim --rate 1000`` -> ``victor_mic_bridge`` -> ``.../mic_direction``;
* LetsRobot commands: ``letsrobot_sim``'s command load (``POST /sim/commands``), 1,000
  numbered ``command_to_robot``/s -> ``letsrobot_bridge`` -> ``.../command``, with the video
  and audio test sources streaming through ffmpeg to the simulator's relays;
* Reachy: ``reachy_sim`` syncing uncapped with ``reachy_bridge`` -> ``.../joint_states``;
* DFX: ``soak_dfx_load.py`` publishes one chunk a second -> ``dfx_bridge`` -> ``dfx_sim`` ->
  one result per chunk -> ``.../results``.

Lost, per stream: sent minus received, where *sent* is counted by the origin (this process's
load client; victor_sim's and reachy_sim's counts printed at their exit; the LetsRobot
simulator's load counter; the DFX load's published chunks) once the loads stopped, and
*received* is what the counter got on the topic after a drain (until it has everything, or
nothing arrived for a while). Loads start only after every counter matched its publisher.
Repeats (a sequence number not above the previous one) fail too. Video/audio: one relay
session each for the whole run (an ffmpeg restart is an interruption), valid MPEG-TS, no
sync errors, still open at the end.

The simulators stand for services that run elsewhere, not on the robot's two cores: they
run at nice 5 (``--services-nice``) and take what the bridges and subscribers leave.

Every 5 s the RSS and CPU time of every process (ffmpeg children included) are read from
/proc. Pass: every process still runs at the end, each one's RSS grew less than 5 MB from
the sample at the end of the warm-up (the first minute; a third of a short run, at most a
minute) to the end, and nothing is lost. Prints the tables; exit 0 on a pass, 1 on a failure,
2 when the run could not be set up. Run through ``scripts/soak.sh [--minutes N | --seconds N]``;
``--single-process`` runs the five bridges as nodes of one robot_bridges_container.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import random
import re
import secrets
import socket
import sys
import tempfile
import time
from typing import Any, Callable, Sequence
import urllib.request

import procs
from robot_bridges.node.containment import CONTAINED_FAILURES
from websockets.asyncio.client import ClientConnection, connect
import yaml

NAMESPACE = '/soak'
RATE_HZ = 1000.0
QOS_DEPTH = 5000  # 5 s of a 1 kHz stream: fills within the warm-up, then stays
SAMPLE_PERIOD_S = 5.0
CONTAINER_LABEL = 'container-bridge'  # ends like a bridge's: its ffmpeg children are sampled
GROWTH_LIMIT_MB = 5.0
BRIDGE_KEYS = ('connected', 'messages_in', 'messages_out', 'decode_errors', 'dropped',
               'reconnects')
START_TIMEOUT_S = 90.0
FLOW_TIMEOUT_S = 60.0
DRAIN_QUIET_S = 10.0
DRAIN_TIMEOUT_S = 60.0
DFX_PROCESSING_DELAY_S = 0.2
_PAGE_KB = os.sysconf('SC_PAGE_SIZE') // 1024
_CLOCK_TICKS = os.sysconf('SC_CLK_TCK')
_CHAT_PAD = 'anyone near the charger? battery at 80%, turning left'


class SetupError(RuntimeError):
    """The soak could not be brought up (not a verdict on the bridges)."""


# -- /proc ---------------------------------------------------------------------------------

def rss_and_cpu(pid: int) -> tuple[float, float] | None:
    """Return (RSS in MB, CPU seconds user + system) of ``pid``; None once it is gone."""
    try:
        with open(f'/proc/{pid}/stat') as stat:
            fields = stat.read().rsplit(')', 1)[1].split()
        with open(f'/proc/{pid}/statm') as statm:
            resident_pages = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    if fields[0] == 'Z':
        return None
    return resident_pages * _PAGE_KB / 1024, (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def children(pid: int) -> list[int]:
    """Return the live child processes of ``pid``."""
    found = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != 'Z':
            found.append(int(entry.name))
    return found


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


# -- processes -------------------------------------------------------------------------------

@dataclass
class Watched:
    """One process of the soak: its samples (seconds since start, RSS MB, CPU s)."""

    label: str
    pid: int
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    gone_at: float | None = None

    def sample(self, t: float) -> None:
        """Read RSS and CPU now; note when the process is gone."""
        reading = rss_and_cpu(self.pid)
        if reading is None:
            if self.gone_at is None:
                self.gone_at = t
            return
        self.samples.append((t, *reading))

    def at(self, t: float) -> tuple[float, float, float] | None:
        """Return the first sample at or after ``t``."""
        return next((s for s in self.samples if s[0] >= t), None)


class Lines:
    """A piped child's stdout: JSON events kept by kind, other lines kept (bounded)."""

    def __init__(self, process: asyncio.subprocess.Process, label: str) -> None:
        self.label = label
        self.events: dict[str, dict[str, Any]] = {}
        self.text: list[str] = []
        self.changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read(process))

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors='replace').rstrip()
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict) and 'event' in event:
                self.events[event['event']] = event
            else:
                self.text.append(line)
                del self.text[:-50]
            self.changed.set()

    async def wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait until ``predicate()`` is truthy; raises SetupError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            left = deadline - time.monotonic()
            if left <= 0 or self._reader.done():
                raise SetupError(f'{self.label}: timed out waiting for {what}')
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))
        return value

    def matching(self, prefix: str) -> str | None:
        """Return the newest printed line that starts with ``prefix``."""
        return next((line for line in reversed(self.text) if line.startswith(prefix)), None)

    async def closed(self, timeout: float) -> None:
        """Wait until the child closed its stdout (it exited)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)


class Soak:
    """The running soak: its processes, their outputs, the loads."""

    def __init__(self, stack: contextlib.AsyncExitStack, logs: Path,
                 services_nice: int = 0) -> None:
        self._stack = stack
        self.logs = logs
        self.services_nice = services_nice
        self.watched: list[Watched] = []
        self.lines: dict[str, Lines] = {}
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.started = time.monotonic()

    async def start(self, label: str, argv: Sequence[str], *,
                    piped: bool = False) -> asyncio.subprocess.Process:
        """Start a process for the rest of the soak (stopped in reverse order)."""
        if label in SERVICES and self.services_nice:
            argv = ['nice', '-n', str(self.services_nice), *argv]  # exec'd: the same pid
        process = await self._stack.enter_async_context(
            procs.running(argv, self.logs / f'{label}.log', stdout_pipe=piped))
        self.processes[label] = process
        self.watched.append(Watched(label, process.pid))
        if piped:
            self.lines[label] = Lines(process, label)
        return process

    async def stop(self, label: str) -> None:
        """Stop one process now (SIGINT) and wait for its last words."""
        await procs.stop(self.processes[label])
        if label in self.lines:
            await self.lines[label].closed(procs.STOP_TIMEOUT_S)

    def sample(self) -> None:
        """Sample every process, ffmpeg children of the bridges included."""
        t = time.monotonic() - self.started
        known = {w.pid for w in self.watched}
        for parent in list(self.watched):
            if parent.label.endswith('-bridge') and parent.gone_at is None:  # the container too
                for pid in children(parent.pid):
                    if pid not in known:
                        self.watched.append(Watched(f'{parent.label}/{_comm(pid)}', pid))
        for watched in self.watched:
            if watched.gone_at is None:
                watched.sample(t)


def _comm(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f'/proc/{pid}/comm').read_text().strip()
    return str(pid)


def ros(name: str, *args: str, params: dict[str, Any] | None = None,
        namespace: str = '') -> list[str]:
    """Return the argv of an installed executable with ROS parameters and namespace."""
    argv = [*procs.executable(name), *args]
    ros_args = [arg for key, value in (params or {}).items()
                for arg in ('-p', f'{key}:={_param(value)}')]
    if namespace:
        ros_args += ['-r', f'__ns:={namespace}']
    return argv + (['--ros-args', *ros_args] if ros_args else [])


STATUS_STALE_S = 5.0  # a bridge reports at 1 Hz; room for a loaded machine


def silent_or_failed(bridges: dict[str, dict[str, str]], container_log: Path | None
                     ) -> list[str]:
    """Return the bridges whose newest status is stale, and a container's contained failures."""
    problems = [f'{name}: no status for {values["age_s"]} s at the end'
                for name, values in sorted(bridges.items())
                if float(values.get('age_s', 'inf')) > STATUS_STALE_S]
    if container_log is not None and container_log.exists():
        problems += [f'container: {line.strip()[:300]}'
                     for line in container_log.read_text(errors='replace').splitlines()
                     if any(failure in line for failure in CONTAINED_FAILURES)]
    return problems


def container(bridges: Sequence[tuple[str, str, str, dict[str, Any]]], params_file: Path
              ) -> list[str]:
    """Return the argv of one robot_bridges_container running every bridge of ``bridges``."""
    # A node's parameters by its fully-qualified name: a -p would reach every node.
    params_file.write_text(yaml.safe_dump(
        {f'{namespace}/{kind}': {'ros__parameters': params}
         for _, kind, namespace, params in bridges}))
    argv = [*procs.executable('robot_bridges_container')]
    for _, kind, namespace, _ in bridges:
        argv += ['--bridge', f'{kind}:{namespace}']
    return argv + ['--ros-args', '--params-file', str(params_file)]


def _param(value: Any) -> str:
    return ('true' if value else 'false') if isinstance(value, bool) else str(value)


def counter(kind: str, topic: str, rate_hz: float) -> list[str]:
    """Return the argv of a counting subscriber."""
    return [*procs.bench_script('soak_counter'), '--kind', kind, '--topic', topic,
            '--depth', str(QOS_DEPTH), '--rate', str(rate_hz)]


def http_json(url: str, body: dict[str, Any] | None = None) -> Any:
    """GET (or POST ``body``) a simulator's control surface; return the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method='GET' if body is None else 'POST',
                                     headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


# -- the Robot Chat load ----------------------------------------------------------------------

class ChatLoad:
    """A relay client sending numbered objects at a steady rate; counts what it sent."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.sent = 0
        self._running = False
        self._task: asyncio.Task[None] | None = None

    async def wait_for_bridge(self, timeout: float) -> None:
        """Read the relay's users counts until another client (the bridge) is there."""
        async def until() -> None:
            async for frame in self.connection:
                value = json.loads(frame)
                if value.get('type') == 'users' and value.get('count', 0) >= 2:
                    return
        try:
            await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            raise SetupError('robot_chat_bridge did not join the relay') from None
        asyncio.create_task(self._drain_incoming())

    async def _drain_incoming(self) -> None:
        with contextlib.suppress(Exception):
            async for _ in self.connection:
                pass

    def start(self, rate_hz: float) -> None:
        """Send at ``rate_hz`` until :meth:`stop`."""
        self._running = True
        self._task = asyncio.create_task(self._run(1.0 / rate_hz))

    async def stop(self) -> None:
        """Stop sending (the count stays); a send under way finishes and is counted."""
        self._running = False
        if self._task is not None:
            await self._task

    async def _run(self, period: float) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while self._running:
            lag = loop.time() - (start + self.sent * period)
            if lag < 0:
                await asyncio.sleep(-lag)
            elif lag > 0.5:
                start += lag  # suspended: resume the schedule, do not flood
            if not self._running:
                return
            await self.connection.send(json.dumps(
                {'type': 'soak', 'user': 'soak', 'seq': self.sent, 'message': _CHAT_PAD}))
            self.sent += 1


# -- the run ---------------------------------------------------------------------------------

@dataclass
class StreamResult:
    """Sent and received of one stream."""

    name: str
    sent: int
    received: int
    gaps: int
    repeats: int

    @property
    def lost(self) -> int:
        """Sent minus received."""
        return self.sent - self.received

    @property
    def passed(self) -> bool:
        """Nothing lost, nothing repeated, something sent."""
        return self.sent > 0 and self.lost == 0 and self.repeats == 0


@dataclass
class Outcome:
    """Everything the tables show."""

    seconds: float
    warmup_s: float
    rate_hz: float
    services_nice: int
    watched: list[Watched]
    streams: list[StreamResult]
    relays: dict[str, dict[str, Any]]
    bridges: dict[str, dict[str, str]]
    problems: list[str]


# The simulators stand for services that run elsewhere, not on the robot's cores: with
# --services-nice they take only what the bridges (and the robot's subscribers) leave.
SERVICES = frozenset({'chat-server', 'letsrobot-sim', 'dfx-sim', 'victor-sim', 'reachy-sim'})

COUNTED = (  # (stream name, counter label, kind, topic)
    ('Robot Chat inbox', 'count-chat', 'robot_chat', f'{NAMESPACE}/robot_chat/inbox'),
    ('Victor mic_direction', 'count-victor', 'victor', f'{NAMESPACE}/victor/mic_direction'),
    ('LetsRobot command', 'count-letsrobot', 'letsrobot', f'{NAMESPACE}/letsrobot/command'),
    ('Reachy joint_states', 'count-reachy', 'reachy', f'{NAMESPACE}/reachy/joint_states'),
    ('DFX results', 'count-dfx', 'dfx', f'{NAMESPACE}/dfx/results'),
)


async def run(seconds: float, warmup_s: float, rate_hz: float, logs: Path,
              services_nice: int = 0, single_process: bool = False) -> Outcome:
    """Bring everything up, run the loads for ``seconds``, drain, and collect the figures."""
    fast = {'reconnect_min_s': 0.1, 'reconnect_max_s': 1.0}
    stream_key = f'soak-{secrets.token_hex(8)}'
    os.environ['DFX_TOKEN'] = f'soak-{secrets.token_hex(8)}'  # never on a command line
    os.environ['LETSROBOT_STREAM_KEY'] = stream_key
    async with contextlib.AsyncExitStack() as stack:
        soak = Soak(stack, logs, services_nice)
        # The services that listen, on free ports.
        await soak.start('chat-server', ros('robot_chat_server', '--port', '0'), piped=True)
        await soak.start('letsrobot-sim', ros('letsrobot_sim', '--port', '0', '--quiet-audience',
                                              '--stream-key', stream_key), piped=True)
        await soak.start('dfx-sim', ros('dfx_sim', '--port', '0', '--processing-delay-s',
                                        str(DFX_PROCESSING_DELAY_S)), piped=True)
        chat_url = (await soak.lines['chat-server'].wait(
            lambda: soak.lines['chat-server'].matching('robot_chat_server: listening on'),
            START_TIMEOUT_S, 'its URL')).rsplit(' ', 1)[-1]
        lr_line = await soak.lines['letsrobot-sim'].wait(
            lambda: soak.lines['letsrobot-sim'].matching('letsrobot_sim: bridge parameters:'),
            START_TIMEOUT_S, 'its parameters')
        lr_params = dict(re.findall(r'-p (\w+):=(\S+)', lr_line))
        dfx_url = (await soak.lines['dfx-sim'].wait(
            lambda: soak.lines['dfx-sim'].matching('dfx_sim: listening on'),
            START_TIMEOUT_S, 'its URL')).rsplit(' ', 1)[-1]
        victor_port, reachy_port = free_port(), free_port()
        # The bridges, with histories deep enough for a loaded machine's hiccups.
        depth = {'qos_depth': QOS_DEPTH}
        bridges = [
            ('chat-bridge', 'robot_chat_bridge', f'{NAMESPACE}/robot_chat',
             {'url': chat_url, **depth, **fast}),
            ('victor-mic-bridge', 'victor_mic_bridge', f'{NAMESPACE}/victor',
             {'host': '127.0.0.1', 'port': victor_port, **depth, **fast}),
            ('letsrobot-bridge', 'letsrobot_bridge', f'{NAMESPACE}/letsrobot',
             {**lr_params, 'robot_id': 'soak_robot', 'camera_id': 'soak_camera',
              'video_source': 'test', 'audio_source': 'test', **depth, **fast}),
            ('reachy-bridge', 'reachy_bridge', f'{NAMESPACE}/reachy',
             {'port': reachy_port, 'qos_depth': 1000}),
            ('dfx-bridge', 'dfx_bridge', f'{NAMESPACE}/dfx', {'url': dfx_url, **depth, **fast}),
        ]
        if single_process:
            await soak.start(CONTAINER_LABEL, container(bridges, logs / 'bridges.yaml'))
        else:
            for label, kind, namespace, params in bridges:
                await soak.start(label, ros(kind, params=params, namespace=namespace))
        for _, label, kind, topic in COUNTED:
            await soak.start(label, counter(kind, topic, rate_hz), piped=True)
        await soak.start('diagnostics', counter('diagnostics', NAMESPACE, rate_hz), piped=True)
        await soak.start('dfx-load', [*procs.bench_script('soak_dfx_load'), '--namespace',
                                      f'{NAMESPACE}/dfx'], piped=True)
        for label in [c[1] for c in COUNTED] + ['dfx-load']:
            await soak.lines[label].wait(lambda label=label: 'matched' in soak.lines[label].events,
                                         START_TIMEOUT_S, 'a matched publisher/subscriber')
        await asyncio.sleep(0.5)  # DDS matching is not symmetric in time
        # The loads: every counter is matched, so whatever is sent from now on is counted.
        chat = ChatLoad(await connect(chat_url, compression=None, open_timeout=10))
        stack.push_async_callback(chat.connection.close)
        await chat.wait_for_bridge(START_TIMEOUT_S)
        chat.start(rate_hz)
        # --compact: the styled writer would cost the simulator ~10x the CPU per push.
        await soak.start('victor-sim', ros('victor_sim', '--port', str(victor_port),
                                           '--rate', str(rate_hz), '--compact'), piped=True)
        await soak.start('reachy-sim', ros('reachy_sim', '--url', f'ws://127.0.0.1:{reachy_port}',
                                           '--status-period', '0'), piped=True)
        control = lr_params['info_server']
        await wait_http(lambda: http_json(f'{control}/sim/state')['sockets']['control']
                        ['identified'], START_TIMEOUT_S, 'letsrobot_bridge to identify')
        http_json(f'{control}/sim/commands', {'rate_hz': rate_hz})
        for _, label, _, _ in COUNTED:
            await soak.lines[label].wait(
                lambda label=label: soak.lines[label].events.get('count', {}).get('received'),
                FLOW_TIMEOUT_S, 'its first message')
        # The soak proper: sample every process every SAMPLE_PERIOD_S.
        soak.started = time.monotonic()
        end = soak.started + seconds
        while True:
            soak.sample()
            now = time.monotonic()
            if now >= end:
                break
            await asyncio.sleep(min(SAMPLE_PERIOD_S, end - now))
        bridges = soak.lines['diagnostics'].events.get('diagnostics', {}).get('nodes', {})
        relays = {kind: http_json(f'{control}/sim/state')['relays'][kind]
                  for kind in ('video', 'audio')}
        # Stop the loads; each origin says what it sent.
        problems: list[str] = []
        await chat.stop()
        sent = {'Robot Chat inbox': chat.sent,
                'LetsRobot command': int(http_json(f'{control}/sim/commands',
                                                   {'rate_hz': 0})['sent'])}
        await soak.stop('dfx-load')
        dfx_sent = soak.lines['dfx-load'].events.get('sent', {})
        sent['DFX results'] = int(dfx_sent.get('sent', 0))
        if not dfx_sent.get('acked'):
            problems.append('dfx_bridge did not acknowledge the last DFX chunks published')
        for label, name in (('victor-sim', 'Victor mic_direction'),
                            ('reachy-sim', 'Reachy joint_states')):
            await soak.stop(label)
            line = soak.lines[label].matching(f'{label.replace("-", "_")}: sent ')
            if line is None:
                problems.append(f'{label} did not say what it sent')
            sent[name] = int(line.split()[2]) if line else 0
        problems += [f'{proc.label} exited {proc.gone_at:.0f} s into the soak'
                     for proc in soak.watched if proc.gone_at is not None]
        problems += silent_or_failed(bridges, logs / f'{CONTAINER_LABEL}.log'
                                     if single_process else None)
        streams = await drain(soak, sent)
        return Outcome(seconds, warmup_s, rate_hz, services_nice, soak.watched, streams, relays,
                       bridges, problems)


async def wait_http(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    """Poll a control surface until ``predicate()`` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, KeyError, ValueError):
            if await asyncio.to_thread(predicate):
                return
        if time.monotonic() > deadline:
            raise SetupError(f'timed out waiting for {what}')
        await asyncio.sleep(0.2)


async def drain(soak: Soak, sent: dict[str, int]) -> list[StreamResult]:
    """Wait until every counter has what was sent, or got nothing new for a while."""
    def counts(label: str) -> dict[str, Any]:
        return soak.lines[label].events.get('count', {})

    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    last_change, last_seen = time.monotonic(), None
    while time.monotonic() < deadline:
        seen = tuple(counts(label).get('received', 0) for _, label, _, _ in COUNTED)
        if all(n >= sent[name] for n, (name, *_) in zip(seen, COUNTED)):
            break
        if seen != last_seen:
            last_change, last_seen = time.monotonic(), seen
        elif time.monotonic() - last_change > DRAIN_QUIET_S:
            break
        await asyncio.sleep(0.5)
    results = []
    for name, label, _, _ in COUNTED:
        await soak.stop(label)  # its last line holds the final counts
        final = counts(label)
        results.append(StreamResult(name, sent[name], int(final.get('received', 0)),
                                    int(final.get('gaps', 0)), int(final.get('repeats', 0))))
    return results


# -- verdicts and tables ---------------------------------------------------------------------

def process_rows(outcome: Outcome) -> tuple[list[str], bool]:
    """One table row per process: RSS after the warm-up and at the end, growth, CPU."""
    rows = [f'| Process | RSS at {outcome.warmup_s:g} s MB | RSS at end MB | Growth MB '
            f'(< {GROWTH_LIMIT_MB:g}) | Peak MB | CPU % | |',
            '|---|---|---|---|---|---|---|']
    passed = True
    for proc in outcome.watched:
        base = proc.at(outcome.warmup_s)
        if not proc.samples or base is None:
            rows.append(f'| {proc.label} | - | - | - | - | - | not sampled after the warm-up |')
            continue
        first, last = proc.samples[0], proc.samples[-1]
        growth = last[1] - base[1]
        peak = max(s[1] for s in proc.samples)
        span = last[0] - first[0]
        cpu = (last[2] - first[2]) / span * 100 if span > 0 else 0.0
        ok = growth < GROWTH_LIMIT_MB and proc.gone_at is None
        passed = passed and ok
        rows.append(f'| {proc.label} | {base[1]:.1f} | {last[1]:.1f} | {growth:+.1f} | '
                    f'{peak:.1f} | {cpu:.0f} | {"PASS" if ok else "FAIL"} |')
    return rows, passed


def stream_rows(outcome: Outcome) -> tuple[list[str], bool]:
    """One row per counted stream and per relay stream."""
    rows = ['| Stream | Sent | Received | Lost | Gaps | Repeats | |',
            '|---|---|---|---|---|---|---|']
    passed = True
    for s in outcome.streams:
        passed = passed and s.passed
        rows.append(f'| {s.name} | {s.sent:,} | {s.received:,} | {s.lost:,} | {s.gaps:,} | '
                    f'{s.repeats:,} | {"PASS" if s.passed else "FAIL"} |')
    for kind, relay in outcome.relays.items():
        last = relay['last'] or {}
        ok = (relay['streams'] == 1 and bool(last.get('open')) and bool(last.get('valid')) and
              last.get('sync_errors') == 0 and last.get('packets', 0) > 0)
        passed = passed and ok
        rows.append(f'| LetsRobot {kind} relay | {relay["streams"]} session(s), '
                    f'{last.get("bytes", 0):,} B | {last.get("packets", 0):,} TS packets, '
                    f'{last.get("kbps", 0):.0f} kbit/s | sync errors {last.get("sync_errors")} '
                    f'| - | - | {"PASS" if ok else "FAIL"} |')
    return rows, passed


def bridge_rows(outcome: Outcome) -> list[str]:
    """Return the bridges' counters (/diagnostics) at the end of the soak, before the drain."""
    rows = ['| Bridge (diagnostics) | ' + ' | '.join(BRIDGE_KEYS) + ' |',
            '|---|' + '---|' * len(BRIDGE_KEYS)]
    for name, values in sorted(outcome.bridges.items()):
        rows.append(f'| {name} | ' + ' | '.join(values.get(k) or '-' for k in BRIDGE_KEYS) +
                    ' |')
    return rows


def report(outcome: Outcome) -> bool:
    """Print both tables and the problems; return the verdict."""
    processes, memory_ok = process_rows(outcome)
    streams, streams_ok = stream_rows(outcome)
    print(f'Soak: {outcome.seconds:g} s of load ({outcome.rate_hz:g} messages/s per message '
          f'bridge; simulators at nice {outcome.services_nice}), RSS and CPU sampled every '
          f'{SAMPLE_PERIOD_S:g} s; growth from the first sample after {outcome.warmup_s:g} s '
          f'to the end; CPU % of one core over the whole soak.')
    print()
    print('\n'.join(processes))
    print()
    print('\n'.join(streams))
    print()
    print('\n'.join(bridge_rows(outcome)))
    print()
    print(f'Load average {os.getloadavg()[0]:.2f} at the end, {os.cpu_count()} cores.')
    for problem in outcome.problems:
        print(f'problem: {problem}')
    passed = memory_ok and streams_ok and not outcome.problems
    print(f'soak: {"PASS" if passed else "FAIL"}')
    return passed


def print_logs(logs: Path) -> None:
    """Show the tail of every process log (after a failure)."""
    for log in sorted(logs.glob('*.log')):
        # The container's log is five bridges' log.
        tail = log.read_text(errors='replace').splitlines()[
            -60 if log.stem == CONTAINER_LABEL else -12:]
        if tail:
            print(f'--- {log.name}', *tail, sep='\n', file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument('--minutes', type=float, default=10.0,
                        help='length of the soak (default: 10)')
    length.add_argument('--seconds', type=float, help='length of the soak, in seconds')
    parser.add_argument('--warmup', type=float,
                        help='seconds before the RSS baseline (default: 60, or a third of a '
                             'soak shorter than 3 minutes)')
    parser.add_argument('--rate', type=float, default=RATE_HZ,
                        help=f'messages/s of the chat, Victor and LetsRobot loads '
                             f'(default: {RATE_HZ:g})')
    parser.add_argument('--services-nice', type=int, default=5, choices=range(0, 20),
                        metavar='N', help='niceness of the simulators, which stand for remote '
                                          'services (default: 5; 0: as the bridges)')
    parser.add_argument('--keep-logs', metavar='DIR', default='',
                        help='write the process logs to DIR (default: a temporary folder, '
                             'shown on a failure)')
    parser.add_argument('--single-process', action='store_true',
                        help='every bridge a node of one robot_bridges_container (default: '
                             'a process per bridge)')
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else args.minutes * 60.0
    if seconds < 3 * SAMPLE_PERIOD_S:
        parser.error(f'the soak must last at least {3 * SAMPLE_PERIOD_S:g} s')
    warmup = args.warmup if args.warmup is not None else min(60.0, seconds / 3)
    if not 0 <= warmup < seconds:
        parser.error('--warmup must be shorter than the soak')
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(0, 101)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    with contextlib.ExitStack() as cleanup:
        if args.keep_logs:
            logs = Path(args.keep_logs)
            logs.mkdir(parents=True, exist_ok=True)
        else:
            logs = Path(cleanup.enter_context(
                tempfile.TemporaryDirectory(prefix='robot_bridges_soak_')))
        try:
            outcome = asyncio.run(run(seconds, warmup, args.rate, logs, args.services_nice,
                                      args.single_process))
        except (SetupError, OSError, TimeoutError) as exc:
            print(f'soak: could not run: {exc}', file=sys.stderr)
            print_logs(logs)
            return 2
        passed = report(outcome)
        if not passed:
            print_logs(logs)
        return 0 if passed else 1


if __name__ == '__main__':
    raise SystemExit(main())
