"""dfx_bridge end to end: dfx_sim process, bridge process, ROS probe in this process."""

from __future__ import annotations

import concurrent.futures
import json
from pathlib import Path
import tempfile
import time
from typing import Any, Callable
import zlib

import pytest
from rcl_interfaces.msg import Log
from robot_bridges.msg import DfxChunk, DfxResult, DfxStatus
from robot_bridges.protocols.dfx_proto import subscribe_pb2
from robot_bridges.srv import DfxSubscribeResults
from ros_helpers import Collector, Diagnostics, free_port, ProbeNode, Proc, wait_for
from std_msgs.msg import Bool

TOKEN = 'tok-5ecret-9f8e7d6c5b4a'
FAST_RECONNECT = {'reconnect_min_s': 0.1, 'reconnect_max_s': 0.5}


def start_sim(procs: Callable[..., Proc], *args: str, port: int = 0,
              token: str = TOKEN) -> tuple[Proc, str]:
    """Start dfx_sim; return it and its URL."""
    sim = procs('dfx_sim', '--port', str(port), '--token', token, *args)
    return sim, sim.wait_output(r'listening on (wss?://\S+)', 15).group(1)


def start_bridge(procs: Callable[..., Proc], namespace: str, url: str,
                 **params: Any) -> Proc:
    values = {'url': url, 'token': TOKEN, **FAST_RECONNECT, **params}
    return procs('dfx_bridge', namespace=namespace, params=values)


def payload_of(order: int, size: int = 1000) -> bytes:
    return bytes((order * 31 + i * 7) % 256 for i in range(size + order))


def make_chunk(measurement_id: str, order: int, last: bool = False, duration: float = 0.3,
               payload: bytes | None = None) -> DfxChunk:
    data = payload_of(order) if payload is None else payload
    return DfxChunk(measurement_id=measurement_id, chunk_order=order, last=last,
                    start_time=order * 1000, end_time=(order + 1) * 1000, duration=duration,
                    payload=data, meta=json.dumps({'FrameRate': 30}))


def expected_signals(payload: bytes) -> dict[str, list[float]]:
    """Compute the simulator's documented result values independently."""
    return {'HR_BPM': [60000.0 + zlib.crc32(payload) % 60000],
            'SNR': [len(payload) * 1000.0],
            'MEAN_BYTE': [float(sum(payload) * 1000 // len(payload))]}


class Endpoints:
    """The probe's view of one bridge namespace."""

    def __init__(self, ros: ProbeNode, namespace: str) -> None:
        self.ros = ros
        self.ns = namespace
        self.results: Collector[DfxResult] = ros.subscribe(DfxResult, f'{namespace}/results')
        self.statuses: Collector[DfxStatus] = ros.subscribe(DfxStatus,
                                                            f'{namespace}/add_data_status')
        self.unknown: Collector[DfxStatus] = ros.subscribe(DfxStatus, f'{namespace}/unknown')
        self.connected: Collector[Bool] = ros.subscribe_latched(Bool, f'{namespace}/connected')
        self._chunks: Any = None

    def ready(self) -> None:
        self.ros.wait_publishers(f'{self.ns}/results')
        self._chunks = self.ros.publisher(DfxChunk, f'{self.ns}/chunks')

    def wait_connected(self, timeout: float = 15.0) -> None:
        wait_for(lambda: self.connected.messages and self.connected.last.data, timeout,
                 f'{self.ns} connected')

    def subscribe(self, measurement_id: str, timeout: float = 20.0) -> Any:
        return self.ros.call(DfxSubscribeResults, f'{self.ns}/subscribe_results',
                             DfxSubscribeResults.Request(measurement_id=measurement_id), timeout)

    def send(self, *chunks: DfxChunk) -> None:
        for chunk in chunks:
            self._chunks.publish(chunk)


def check_results(results: list[DfxResult], measurement_id: str, orders: list[int]) -> None:
    mine = [r for r in results if r.measurement_id == measurement_id]
    assert [r.chunk_order for r in mine] == orders
    for result in mine:
        assert result.error_code == 'OK' and result.multiplier == 1000.0
        signals = {s.name: list(s.data) for s in result.signals}
        assert signals == expected_signals(payload_of(result.chunk_order))
        assert json.loads(result.json)['MeasurementDataID'] == \
            f'{measurement_id}:{result.chunk_order}'


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text and TOKEN[4:16] not in text


@pytest.mark.parametrize('dialect', ['json', 'protobuf'])
def test_measurement_end_to_end(procs: Callable[..., Proc], ros: ProbeNode,
                                dialect: str) -> None:
    sim, url = start_sim(procs, '--processing-delay-s', '0.2')
    ns = f'/dfx_e2e_{dialect}'
    ends = Endpoints(ros, ns)
    rosout = ros.subscribe(Log, '/rosout')
    diagnostics = Diagnostics(ros)
    bridge = start_bridge(procs, ns, url, dialect=dialect, auth_action=dialect == 'json')
    ends.ready()
    ends.wait_connected()
    answer = ends.subscribe('meas-1')
    assert answer.success, answer.message
    assert len(answer.request_id) == 10
    ends.send(make_chunk('meas-1', 0), make_chunk('meas-1', 1), make_chunk('meas-1', 2, True))
    results = ends.results.wait_count(3, 20)
    check_results(results, 'meas-1', [0, 1, 2])
    assert {r.request_id for r in results} == {answer.request_id}
    for result in results:
        assert result.measurement_result_id == f'meas-1:{result.chunk_order}:result'
        if dialect == 'protobuf':  # decoded, and the raw message kept for the vendor SDK
            raw = subscribe_pb2.SubscribeResultsResponse.FromString(bytes(result.body))
            assert raw.MeasurementDataID == f'meas-1:{result.chunk_order}'
        else:
            assert len(result.body) == 0
    statuses = ends.statuses.wait_count(3, 10)
    assert [(s.chunk_order, s.status, s.error_code, s.action, s.measurement_id)
            for s in statuses] == [(n, 200, 'OK', '0506', 'meas-1') for n in range(3)]
    assert len({s.request_id for s in statuses} | {answer.request_id}) == 4
    assert json.loads(statuses[1].body) == {'ID': 'meas-1', 'ChunkOrder': 1}
    # The last result finished the measurement: nothing to subscribe again.
    values = diagnostics.wait(f'{ns}/dfx_bridge', lambda v: v['pending_requests'] == '0' and
                              v['subscriptions'] == '0')
    assert values['unknown_responses'] == '0'
    assert 'arrived early' not in sim.output and 'refused' not in sim.output
    assert len(ends.unknown) == 0
    assert bridge.returncode is None and 'Traceback' not in bridge.output
    assert_no_secret(bridge.output, sim.output, *(m.msg for m in rosout.messages),
                     *(json.dumps(v) for v in [values]))


def test_tls_with_the_simulators_ca(procs: Callable[..., Proc], ros: ProbeNode) -> None:
    ca_file = str(Path(tempfile.mkdtemp(prefix='dfx_ca_')) / 'ca.pem')
    sim, url = start_sim(procs, '--tls', '--ca-file', ca_file, '--processing-delay-s', '0')
    assert url.startswith('wss://127.0.0.1:')
    diagnostics = Diagnostics(ros)
    rosout = ros.subscribe(Log, '/rosout')
    trusted, untrusted, unverified = (Endpoints(ros, f'/dfx_tls_{n}') for n in 'abc')
    bridges = [start_bridge(procs, '/dfx_tls_a', url, ca_file=ca_file),
               start_bridge(procs, '/dfx_tls_b', url),
               start_bridge(procs, '/dfx_tls_c', url, tls_verify=False)]
    for ends in (trusted, unverified):
        ends.ready()
        ends.wait_connected()
        measurement_id = f'm{ends.ns}'
        assert ends.subscribe(measurement_id).success
        ends.send(make_chunk(measurement_id, 0, last=True))
        check_results(ends.results.wait_count(1, 15), measurement_id, [0])
    # Without the CA: verification fails, is reported and retried; the node stays up.
    values = diagnostics.wait('/dfx_tls_b/dfx_bridge',
                              lambda v: 'CERTIFICATE_VERIFY_FAILED' in v['last_error'], 20)
    assert values['connected'] == 'false'
    time.sleep(2.0)
    assert bridges[1].returncode is None
    assert 'NOT verified' in bridges[2].output and 'NOT verified' not in bridges[0].output
    for bridge in bridges:
        assert 'Traceback' not in bridge.output
    assert_no_secret(sim.output, *(b.output for b in bridges),
                     *(m.msg for m in rosout.messages))


def test_wrong_token_is_reported_redacted_with_backoff(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    sim, url = start_sim(procs, token='another-token-entirely')
    diagnostics = Diagnostics(ros)
    rosout = ros.subscribe(Log, '/rosout')
    bridge = start_bridge(procs, '/dfx_401', url, reconnect_min_s=0.5, reconnect_max_s=2.0)
    values = diagnostics.wait('/dfx_401/dfx_bridge', lambda v: '401' in v['last_error'], 20)
    assert values['connected'] == 'false'
    started = time.monotonic()
    refused_before = sim.output.count('refused an upgrade')
    time.sleep(5.0)
    refused = sim.output.count('refused an upgrade') - refused_before
    elapsed = time.monotonic() - started
    # Backoff between 0.5 and 2 s: a handful of attempts, never a tight loop.
    assert 1 <= refused <= elapsed / 0.5 + 2, refused
    assert '401' in bridge.output and bridge.returncode is None
    assert_no_secret(bridge.output, sim.output, *(m.msg for m in rosout.messages),
                     *(json.dumps(v) for v in [values]))


def test_missing_token_fails_configure(procs: Callable[..., Proc],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('DFX_TOKEN', raising=False)
    bridge = procs('dfx_bridge', namespace='/dfx_notoken',
                   params={'url': 'ws://127.0.0.1:9'})
    assert bridge.wait_exit(20) == 1
    assert 'no token: set parameter token or the environment variable DFX_TOKEN' in \
        bridge.output


def test_token_from_the_environment(procs: Callable[..., Proc], ros: ProbeNode,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('DFX_TOKEN', TOKEN)
    _, url = start_sim(procs, '--processing-delay-s', '0')
    ends = Endpoints(ros, '/dfx_env')
    bridge = procs('dfx_bridge', namespace='/dfx_env', params={'url': url})
    ends.ready()
    ends.wait_connected()
    assert ends.subscribe('m-env').success
    assert_no_secret(bridge.output)


def test_correlation_unknown_ids_and_timeouts(procs: Callable[..., Proc],
                                              ros: ProbeNode) -> None:
    _, url = start_sim(procs, '--processing-delay-s', '0.3', '--chaos', 'unknown-ids',
                       '--chaos', 'no-answer')
    ends = Endpoints(ros, '/dfx_corr')
    diagnostics = Diagnostics(ros)
    bridge = start_bridge(procs, '/dfx_corr', url, request_timeout_s=1.5, pace_chunks=False)
    ends.ready()
    ends.wait_connected()
    first = ends.subscribe('m-a')
    second = ends.subscribe('m-b')
    assert first.success and second.success and first.request_id != second.request_id
    # Two measurements interleaved: results and statuses cross on the one socket.
    for order in range(3):
        ends.send(make_chunk('m-a', order, order == 2, 0.0),
                  make_chunk('m-b', order, order == 2, 0.0))
    results = ends.results.wait_count(6, 20)
    for mid, answer in (('m-a', first), ('m-b', second)):
        check_results(results, mid, [0, 1, 2])
        assert {r.request_id for r in results if r.measurement_id == mid} == {answer.request_id}
    statuses = ends.statuses.wait_count(6, 15)
    by_chunk = {(s.measurement_id, s.chunk_order): s for s in statuses}
    assert len(by_chunk) == 6
    for mid in ('m-a', 'm-b'):
        assert (by_chunk[(mid, 0)].status, by_chunk[(mid, 2)].status) == (200, 200)
        timed_out = by_chunk[(mid, 1)]  # the simulator never answers chunk 1
        assert (timed_out.status, timed_out.error_code) == (0, 'TIMEOUT')
        assert timed_out.action == '0506'
    unknown = ends.unknown.wait_count(4, 10)
    assert all(u.request_id.startswith('zz') and u.action == '' for u in unknown)
    assert 'nobody asked' in unknown[0].body
    values = diagnostics.wait('/dfx_corr/dfx_bridge',
                              lambda v: int(v['unknown_responses']) >= 4 and
                              v['timeouts'] == '2')
    assert values['decode_errors'] == '0'
    assert 'no answer to request' in bridge.output and 'Traceback' not in bridge.output


def test_measurement_closed_after_the_time_limit(procs: Callable[..., Proc],
                                                 ros: ProbeNode) -> None:
    _, url = start_sim(procs, '--measurement-limit-s', '0.5', '--processing-delay-s', '0')
    ends = Endpoints(ros, '/dfx_closed')
    bridge = start_bridge(procs, '/dfx_closed', url)
    ends.ready()
    ends.wait_connected()
    assert ends.subscribe('m-c').success
    ends.send(make_chunk('m-c', 0, duration=1.0), make_chunk('m-c', 1, duration=1.0))
    statuses = ends.statuses.wait_count(2, 15)
    assert (statuses[0].status, statuses[0].error_code) == (200, 'OK')
    closed = statuses[1]
    assert (closed.status, closed.error_code, closed.chunk_order) == (400, 'MEASUREMENT_CLOSED',
                                                                      1)
    assert 'time limit' in json.loads(closed.body)['Errors'][0]
    check_results(ends.results.wait_count(1, 10), 'm-c', [0])
    wait_for(lambda: 'MEASUREMENT_CLOSED' in bridge.output, 10, 'the error logged')


def test_reconnect_mid_measurement(procs: Callable[..., Proc], ros: ProbeNode) -> None:
    port = free_port()
    ends = Endpoints(ros, '/dfx_rc')
    diagnostics = Diagnostics(ros)
    rosout = ros.subscribe(Log, '/rosout')
    bridge = start_bridge(procs, '/dfx_rc', f'ws://127.0.0.1:{port}', auth_action=True)
    ends.ready()
    # Subscribed while the API is down: the call waits, and chunks keep flowing meanwhile.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        call = pool.submit(ends.subscribe, 'm-r', 30)
        ends.send(make_chunk('m-r', 0, duration=0.5))
        diagnostics.wait('/dfx_rc/dfx_bridge', lambda v: v['chunks_queued'] == '1')
        assert not call.done()
        sim, _ = start_sim(procs, '--processing-delay-s', '0.2', '--chaos', 'drop', port=port)
        answer = call.result(30)
    assert answer.success, answer.message
    # The simulator drops the connection right after chunk 1 arrives.
    ends.send(*(make_chunk('m-r', n, n == 5, 0.5) for n in range(1, 6)))
    results = ends.results.wait_count(6, 30)
    check_results(results, 'm-r', [0, 1, 2, 3, 4, 5])
    assert len({r.request_id for r in results}) == 2  # subscribed again under a new ID
    statuses = ends.statuses.wait_count(6, 20)
    assert [s.chunk_order for s in statuses if s.status == 200][-4:] == [2, 3, 4, 5]
    assert not [s for s in statuses if s.status not in (0, 200)]
    # The last chunk's result finished the measurement: nothing left to subscribe again.
    diagnostics.wait('/dfx_rc/dfx_bridge',
                     lambda v: int(v['reconnects']) >= 1 and v['subscriptions'] == '0')
    assert 'chaos: dropping' in sim.output and 'refused' not in sim.output
    assert 'Traceback' not in bridge.output
    assert_no_secret(bridge.output, *(m.msg for m in rosout.messages))


def test_pacing_holds_early_chunks(procs: Callable[..., Proc], ros: ProbeNode) -> None:
    paced_sim, paced_url = start_sim(procs, '--processing-delay-s', '0')
    eager_sim, eager_url = start_sim(procs, '--processing-delay-s', '0')
    paced, eager = Endpoints(ros, '/dfx_paced'), Endpoints(ros, '/dfx_eager')
    start_bridge(procs, '/dfx_paced', paced_url)
    start_bridge(procs, '/dfx_eager', eager_url, pace_chunks=False)
    chunks = [make_chunk('m-p', n, n == 3, 0.8) for n in range(4)]
    for ends in (paced, eager):
        ends.ready()
        ends.wait_connected()
        assert ends.subscribe('m-p').success
        ends.send(*chunks)
    statuses = paced.statuses.wait_count(4, 20)
    assert [s.status for s in statuses] == [200] * 4
    # Held for the duration, not sent early: chunk k is answered at least k durations (0.8 s,
    # less a margin) after chunk 0. Counted from chunk 0, not between neighbours: a status
    # delivered late (a loaded machine) shortens the next gap but not this.
    times = paced.statuses.times[:4]
    since = [when - times[0] for when in times]
    assert all(since[k] >= 0.7 * k for k in range(4)), since
    check_results(paced.results.wait_count(4, 10), 'm-p', [0, 1, 2, 3])
    assert 'arrived early' not in paced_sim.output
    # Unpaced, the API accepts the chunks but does not process the early ones.
    assert [s.status for s in eager.statuses.wait_count(4, 20)] == [200] * 4
    eager_sim.wait_output('chunk 3 arrived early', 10)
    time.sleep(1.0)
    assert [r.chunk_order for r in eager.results.messages] == [0]


@pytest.mark.parametrize('dialect', ['json', 'protobuf'])
def test_bad_input_is_counted_and_survived(procs: Callable[..., Proc], ros: ProbeNode,
                                           dialect: str) -> None:
    _, url = start_sim(procs, '--processing-delay-s', '0', '--chaos', 'malformed',
                       '--chaos', 'oversize')
    ns = f'/dfx_bad_{dialect}'
    ends = Endpoints(ros, ns)
    diagnostics = Diagnostics(ros)
    bridge = start_bridge(procs, ns, url, dialect=dialect, max_message_bytes=1 << 20)
    node = f'{ns}/dfx_bridge'
    ends.ready()
    ends.wait_connected()
    ends.subscribe('m-bad')
    # short frame, non-ASCII ID, non-numeric status, a broken result (JSON in v2, a truncated
    # protobuf in v1), then a frame over max_message_bytes, which closes the link: it
    # reopens and subscribes again.
    frames = 4
    values = diagnostics.wait(node, lambda v: int(v['decode_errors']) >= frames + 1 and
                              v['connected'] == 'true' and int(v['reconnects']) >= 1, 20)
    # Each counted once, in the order they came: the frames before the oversize one were
    # handled before the link was down, so the broken result still found its subscription.
    assert values['decode_errors'] == str(frames + 1), values
    assert values['unknown_responses'] == '0' and values['link_aborts'] == '0', values
    # From the ROS side: meta that is not JSON, an empty measurement ID.
    ends.send(DfxChunk(measurement_id='m-bad', meta='{not json', payload=b'x'),
              DfxChunk(measurement_id='', payload=b'x'))
    diagnostics.wait(node, lambda v: int(v['decode_errors']) >= frames + 3)
    # The status of chunk 0 has a broken body (protobuf in v1, JSON in v2): counted, and
    # still published from the request it answers.
    ends.send(make_chunk('m-bad', 0, duration=0.0), make_chunk('m-bad', 1, True, 0.0))
    statuses = ends.statuses.wait_count(2, 15)
    assert [(s.chunk_order, s.status) for s in statuses] == [(0, 200), (1, 200)]
    check_results(ends.results.wait_count(2, 15), 'm-bad', [0, 1])
    values = diagnostics.wait(node, lambda v: int(v['decode_errors']) >= frames + 4)
    assert bridge.returncode is None and 'Traceback' not in bridge.output
    # One line per kind per second: the first of each kind is logged.
    for kind in ('bad frame: short frame', 'max_message_bytes', 'rejected a chunk',
                 'bad add-data status'):
        assert kind in bridge.output, kind
    assert values['connected'] == 'true' and values['unknown_responses'] == '0'
    assert len(ends.unknown) == 0


def test_a_burst_of_chunks_waits_for_the_socket_and_loses_none(
        procs: Callable[..., Proc], ros: ProbeNode) -> None:
    # Unpaced, a burst outruns the socket: the chunks wait in their own queue instead of
    # overflowing the socket's outbox.
    _, url = start_sim(procs, '--processing-delay-s', '0')
    ns = '/dfx_burst'
    ends = Endpoints(ros, ns)
    diagnostics = Diagnostics(ros)
    start_bridge(procs, ns, url, pace_chunks=False, chunk_queue_size=400, qos_depth=400)
    ends.ready()
    ends.wait_connected()
    count = 250
    payload = bytes(range(256)) * 256  # 64 KiB
    ends.send(*(make_chunk('burst', n, n == count - 1, 0.001, payload) for n in range(count)))
    statuses = ends.statuses.wait_count(count, 60)
    assert sorted(s.chunk_order for s in statuses) == list(range(count))
    assert {s.status for s in statuses} == {200}
    values = diagnostics.wait(f'{ns}/dfx_bridge', lambda v: v['chunks_queued'] == '0')
    assert values['dropped'] == '0', values


@pytest.mark.parametrize('dialect', ['json', 'protobuf'])
def test_a_finished_subscription_is_not_renewed_after_a_reconnect(
        procs: Callable[..., Proc], ros: ProbeNode, dialect: str) -> None:
    # Issue 21: v1 results were not decoded, so the last result never finished its
    # subscription and every reconnect subscribed it again.
    port = free_port()
    sim, url = start_sim(procs, '--processing-delay-s', '0', '--verbose', port=port)
    ns = f'/dfx_fin_{dialect}'
    node = f'{ns}/dfx_bridge'
    ends = Endpoints(ros, ns)
    diagnostics = Diagnostics(ros)
    bridge = start_bridge(procs, ns, url, dialect=dialect)
    ends.ready()
    ends.wait_connected()
    assert ends.subscribe('m-done').success and ends.subscribe('m-open').success
    ends.send(make_chunk('m-done', 0, duration=0.0), make_chunk('m-done', 1, True, 0.0),
              make_chunk('m-open', 0, duration=0.0))
    results = ends.results.wait_count(3, 20)
    check_results(results, 'm-done', [0, 1])
    check_results(results, 'm-open', [0])
    diagnostics.wait(node, lambda v: v['subscriptions'] == '1')
    sim.kill()
    again, _ = start_sim(procs, '--processing-delay-s', '0', '--verbose', port=port)
    diagnostics.wait(node, lambda v: int(v['reconnects']) >= 1 and v['connected'] == 'true',
                     20)
    # The unfinished one is subscribed again (the check can fail), the finished one not.
    again.wait_output(r"request 0510 \S+ measurement 'm-open'", 10)
    time.sleep(1.0)
    assert again.output.count('request 0510') == 1, again.output
    assert "'m-done'" not in again.output
    assert 'Traceback' not in bridge.output
