"""
The fault matrix: every bridge against its real simulator, through a fault proxy, per fault.

Each cell adds one line to the run's summary,
``FAULT-MATRIX <bridge> <fault> recovered_s=<s> lost=<n> ...``
(the README's matrix is built from a run: ``scripts/test.sh test/test_fault_matrix.py``).
``recovered_s`` is from the end of the fault (service back, proxy passing or reading again,
the reset done) to ``connected`` true again; for ``sigterm_under_traffic`` it is the time to
exit. ``lost`` is, for a killed or unreachable service, the output queued meanwhile that
never reached the restarted service; for the faults mid-stream, the service's sequence
numbers that never reached the ROS topic (messages the service produced during the outage
included: the relay and the socket.io servers drop what they cannot deliver); for the stalled
subscriber, what that subscriber never got. ``n/a``: nothing countable in that cell.

Form ``container``: the bridge runs as a node of robot_bridges_container next to a bystander
bridge (test/fault_container.py). The suite runs CONTAINER_CELLS in that form;
``ROBOT_BRIDGES_FAULT_MATRIX_CONTAINER=1`` runs every cell in both forms.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Iterator

from fault_container import contained
from fault_rigs import RECONNECT_MAX_S, Rig, RIGS
from letsrobot_helpers import alive, CAMERA_ID, children, ffmpeg_children
import pytest
from ros_helpers import MATCH_SETTLE_S, ProbeNode, Proc, steady, wait_for

SUBSCRIBER_DEPTH = 20
#: A message stamped this close before a subscriber resumed may still be in flight.
IN_FLIGHT_S = 0.25
HERE = Path(__file__).resolve().parent

FAULTS = ('service_killed', 'handshake_blackhole', 'service_stops_reading',
          'reset_mid_frame', 'subscriber_stalls', 'sigterm_under_traffic')
NOT_APPLICABLE: dict[tuple[str, str], str] = {}


# The cells the suite also runs in the container form (a fault of the link, and the stop).
CONTAINER_CELLS = {('robot_chat_bridge', 'service_killed'),
                   ('victor_mic_bridge', 'sigterm_under_traffic')}
ALL_IN_CONTAINER = os.environ.get('ROBOT_BRIDGES_FAULT_MATRIX_CONTAINER') == '1'


def cells() -> Iterator[Any]:
    for bridge in RIGS:
        for fault in FAULTS:
            reason = NOT_APPLICABLE.get((bridge, fault))
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            yield pytest.param(bridge, fault, 'process', marks=marks, id=f'{bridge}-{fault}')
            if ALL_IN_CONTAINER or (bridge, fault) in CONTAINER_CELLS:
                yield pytest.param(bridge, fault, 'container', marks=marks,
                                   id=f'{bridge}-{fault}-container')


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Keep a FAULT-MATRIX line for the run's summary (conftest.py; xdist carries it over)."""
    def write(bridge: str, fault: str, recovered_s: float | None, lost: int | None,
              **extra: Any) -> None:
        fields = [f'recovered_s={_num(recovered_s)}', f'lost={_num(lost)}',
                  *(f'{k}={_num(v)}' for k, v in extra.items())]
        request.node.user_properties.append(
            ('summary_line', f'FAULT-MATRIX {bridge} {fault} {" ".join(fields)}'))
    return write


def _num(value: Any) -> str:
    if value is None:
        return 'n/a'
    return f'{value:.2f}' if isinstance(value, float) else str(value)


@pytest.mark.parametrize('bridge, fault, form', list(cells()))
def test_fault(procs: Callable[..., Proc], ros: ProbeNode, report: Callable[..., None],
               bridge: str, fault: str, form: str) -> None:
    ns = f'/fm_{bridge.split("_")[0]}_{FAULTS.index(fault)}' + ('c' if form == 'container' else '')
    starter = contained(procs, RIGS[bridge].executable) if form == 'container' else procs
    rig = RIGS[bridge](starter, ros, ns)
    try:
        outcome = CELLS[fault](rig)
        assert rig.bridge is not None
        if fault != 'sigterm_under_traffic':
            assert rig.bridge.returncode is None, rig.bridge.output[-3000:]
            if form == 'container':  # the fault stayed with its node
                assert f'{ns}_bystander' in {n for _, n in
                                             ros.node.get_node_names_and_namespaces()}
        assert 'Traceback' not in rig.bridge.output, rig.bridge.output[-3000:]
    finally:
        rig.close()
    report(bridge + ('@container' if form == 'container' else ''), fault, *outcome[:2],
           **outcome[2])


Outcome = tuple[float | None, int | None, dict[str, Any]]


def service_killed(rig: Rig) -> Outcome:
    """SIGKILL the service, queue output, restart it: reconnect, re-identify, deliver."""
    rig.start()
    assert rig.proxy is not None
    rig.kill_service()
    rig.wait_down()
    if rig.needs_reader:
        rig.proxy.reject()  # the bridge stays out until a reader is on the relay
    queued = rig.queue_output()
    # Any connected after this is to the new service: the old one is dead and reported down.
    restarting = rig.mark('service restarting')
    back = rig.start_service()
    rig.mark('service ready (seen by the test)')
    if rig.needs_reader:
        rig.listen()
        restarting = back = rig.mark('reader on the relay, proxy passing')
        rig.proxy.pass_through()
    up = rig.wait_up(restarting, 30)
    # The bridge may be up before the test saw the service's ready line (read just after
    # the service listens): that is an immediate recovery.
    recovered = max(up - back, 0.0)
    assert rig.reidentified()
    if not queued:
        rig.wait_flowing(up)  # the subscription went out again
    delivered = rig.output_delivered(queued)
    assert delivered == queued, f'{queued - delivered} of {queued} queued outputs lost'
    # reachy: the simulator dials, its start-up (a Python process) is part of the recovery.
    bound = 15.0 if rig.service_dials else RECONNECT_MAX_S + 1.0
    assert recovered <= bound, f'reconnected {recovered:.2f} s after the service came back'
    return recovered, (queued - delivered) if queued else None, {'queued': queued}


def handshake_blackhole(rig: Rig) -> Outcome:
    """Accept TCP, never answer: check it is reported, retried, recovered once passed."""
    rig.start()
    proxy = rig.proxy
    assert proxy is not None and rig.service is not None
    proxy.blackhole()
    accepted = proxy.accepted
    waiting_said = rig.service.output.count('waiting for the server')
    proxy.cut()
    rig.wait_down()
    queued = rig.queue_output() if not rig.needs_reader else 0
    # Retried: a second attempt after the first timed out (open timeout 5 s).
    wait_for(lambda: proxy.accepted >= accepted + 2, 30, 'a retry into the blackhole')
    if rig.reports_connect_timeout:
        values = rig.values(lambda v: 'failed' in v['last_error'], 10)
        assert 'Timeout' in values['last_error'] or 'timed out' in values['last_error'], values
    elif rig.service_dials:
        wait_for(lambda: rig.service.output.count('waiting for the server') > waiting_said,
                 10, 'the simulator to report the failed attempt')
    values = rig.values(lambda v: v['connected'] == 'false')
    passed = time.monotonic()
    proxy.pass_through()
    up = rig.wait_up(passed, 30)
    delivered = rig.output_delivered(queued) if queued else 0
    assert delivered == queued
    return up - passed, (queued - delivered) if queued else None, {
        'attempts': proxy.accepted - accepted}


def service_stops_reading(rig: Rig) -> Outcome:
    """Stall the service (no reading, no answer): liveness aborts; recovered when it reads."""
    rig.start(**rig.liveness_params)
    proxy = rig.proxy
    assert proxy is not None
    rig.traffic(True)
    rig.wait_flowing(time.monotonic())
    before = rig.counter(rig.liveness_counter) if rig.liveness_counter else 0
    stalled = time.monotonic()
    proxy.stall('both')
    rig.wait_down(20)
    detected = rig.connected.times[-1] - stalled
    if rig.liveness_counter:
        rig.values(lambda v: int(v[rig.liveness_counter]) > before, 10)
    assert detected <= rig.liveness_s + 3.0, f'detected after {detected:.2f} s'
    reading = time.monotonic()
    proxy.resume()
    up = rig.wait_up(reading, 30)
    rig.wait_flowing(up)
    rig.traffic(False)
    return up - reading, rig.stream_lost(), {'detected_s': detected}


def reset_mid_frame(rig: Rig) -> Outcome:
    """Reset the link part way through a frame to the bridge: reconnect, no crash."""
    rig.start()
    proxy = rig.proxy
    assert proxy is not None
    rig.traffic(True)
    rig.wait_flowing(time.monotonic())
    reset = time.monotonic()
    proxy.reset_mid_frame(rig.to_bridge)
    wait_for(lambda: not proxy.reset_pending(), 10, 'the reset')
    up = rig.wait_up(reset, 30)
    rig.wait_flowing(up)
    rig.traffic(False)
    return up - reset, rig.stream_lost(), {}


def subscriber_stalls(rig: Rig) -> Outcome:
    """Stall a subscriber process: the bridge keeps reading; history depth bounds the loss."""
    rig.start(qos_depth=SUBSCRIBER_DEPTH)
    topic = f'{rig.ns}/{rig.stream_topic}'
    kind = rig.stream_type
    subscriber = subprocess.Popen(
        [sys.executable, str(HERE / 'stall_subscriber.py'), topic,
         f'{kind.__module__.rsplit(".", 1)[0]}.{kind.__name__}', str(SUBSCRIBER_DEPTH),
         rig.stall_key], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert subscriber.stdout is not None and subscriber.stdin is not None

        def command(text: str) -> dict[str, Any]:
            subscriber.stdin.write(text + '\n')
            subscriber.stdin.flush()
            return json.loads(subscriber.stdout.readline())

        def taken() -> set[int]:
            return {rig.reported_key(k) for k in command('report')['keys']}

        def published() -> set[int]:
            return set(rig.keys())
        assert subscriber.stdout.readline().strip() == 'ready'
        time.sleep(MATCH_SETTLE_S)
        rig.traffic(True)
        wait_for(taken, 20, 'the subscriber to receive')
        messages_in = rig.counter('messages_in')
        stall = command('stall')
        low = rig.stall_start(stall)
        # The bridge keeps reading: its messages_in grows well past both history depths.
        rig.values(lambda v: int(v['messages_in']) > messages_in + 6 * SUBSCRIBER_DEPTH, 30)
        # Past both depths even without what may be in flight when the subscriber resumes
        # (a loaded machine publishes in bursts: a burst just before the resume is in flight).

        def past_depths() -> bool:
            keys = published()
            settled = max(keys) - rig.key_span(IN_FLIGHT_S)
            return sum(low <= k <= settled for k in keys) > 6 * SUBSCRIBER_DEPTH
        wait_for(past_depths, 30, 'the bridge to publish past both history depths')
        settled = rig.quiesce()
        high = rig.stall_end(command('resume'), settled)
        resumed = time.monotonic()
        if settled is not None:
            # The subscriber takes its history before the held stream comes in a burst.
            wait_for(steady(lambda: len(command('report')['keys'])), 10, 'the history taken')
            rig.unquiesce()
        wait_for(lambda: {k for k in published() if k > high} & taken(), 20,
                 'the subscriber to get what was published after it resumed')
        recovered = time.monotonic() - resumed
        time.sleep(0.5)
        rig.traffic(False)
        time.sleep(0.3)
        keys = taken()
        subscriber.stdin.write('quit\n')
        subscriber.stdin.flush()
        assert subscriber.wait(10) == 0
    finally:
        if subscriber.poll() is None:
            subscriber.kill()
            subscriber.wait(5)
    # What the bridge published while the subscriber stalled (see Rig.stall_start).
    keys_seen = published()
    during = {k for k in keys_seen if low <= k <= high}
    kept = len(during & keys)
    lost = len(during) - kept
    assert {k for k in keys_seen if k > high} & keys, 'nothing after the resume arrived'
    # Keep-last: of what was published during the stall, the subscriber keeps at most its
    # depth plus the publisher's (both SUBSCRIBER_DEPTH), and what was in flight as it
    # resumed (published in the last IN_FLIGHT_S before it).
    in_flight = sum(k > high - rig.key_span(IN_FLIGHT_S) for k in during)
    assert kept <= 2 * SUBSCRIBER_DEPTH + in_flight, (kept, len(during), in_flight)
    assert lost >= len(during) - 2 * SUBSCRIBER_DEPTH - in_flight > 0, (lost, len(during))
    return recovered, lost, {'stalled_s': (high - low) / rig.key_span(1.0),
                             'published_during_stall': len(during), 'kept': kept}


def sigterm_under_traffic(rig: Rig) -> Outcome:
    """SIGTERM while traffic flows: exit within 2 s, no child process left."""
    video = {'camera_id': CAMERA_ID, 'video_source': 'test'} if rig.node == 'letsrobot_bridge' \
        else {}
    rig.start(**video)
    bridge = rig.bridge
    assert bridge is not None
    rig.traffic(True)
    rig.wait_flowing(time.monotonic())
    if video:
        wait_for(lambda: ffmpeg_children(bridge.pid), 20, 'ffmpeg running')
    kids = children(bridge.pid)
    start = time.monotonic()
    bridge._popen.send_signal(signal.SIGTERM)
    code = bridge.wait_exit(2.0)
    exited = time.monotonic() - start
    rig.traffic(False)
    assert code == 0, bridge.output[-3000:]
    wait_for(lambda: not [k for k in kids if alive(k)], 2, 'no child left')
    return exited, None, {'children': len(kids)}


CELLS: dict[str, Callable[[Rig], Outcome]] = {
    'service_killed': service_killed,
    'handshake_blackhole': handshake_blackhole,
    'service_stops_reading': service_stops_reading,
    'reset_mid_frame': reset_mid_frame,
    'subscriber_stalls': subscriber_stalls,
    'sigterm_under_traffic': sigterm_under_traffic,
}
