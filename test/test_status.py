"""The status view: rates and staleness from diagnostics, and the status executable."""

from __future__ import annotations

from typing import Callable

from chat_fixtures import start_server
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from rich.console import Console, Group
from robot_bridges.tools.bridge_view import HealthBoard
from ros_helpers import Proc


def status(name: str, level: int, **values: object) -> DiagnosticStatus:
    return DiagnosticStatus(name=name, level=bytes([level]), message='m', values=[
        KeyValue(key=k, value=str(v)) for k, v in values.items()])


def test_rates_come_from_successive_statuses_and_silence_turns_stale() -> None:
    board = HealthBoard()
    board.update(status('/a/x_bridge', 0, connected='true', messages_in=100, messages_out=0,
                        decode_errors=0), now=10.0)
    board.update(status('/a/x_bridge', 0, connected='true', messages_in=300, messages_out=5,
                        decode_errors=2), now=12.0)
    board.update(status('/other', 0, foo='bar'), now=12.0)  # not a bridge: ignored
    health = board.bridges['/a/x_bridge']
    assert (health.rate_in, health.rate_out) == (100.0, 2.5)
    assert list(board.bridges) == ['/a/x_bridge'] and board.all_ok(now=12.5)
    line = next(iter(board.lines(now=12.5)))
    assert line.startswith('OK    /a/x_bridge connected=true in=100/s')
    assert 'decode_errors=2' in line
    assert not board.all_ok(now=20.0)  # stale
    assert next(iter(board.lines(now=20.0))).startswith('STALE')
    board.update(status('/a/x_bridge', 1, connected='false', messages_in=300, messages_out=5,
                        last_error='refused'), now=20.5)
    assert not board.all_ok(now=20.6)
    console = Console(width=120, record=True)
    console.print(board.render(now=20.6))
    text = console.export_text()
    assert 'WARN' in text and 'disconnected' in text and 'refused' in text


def test_a_panel_is_laid_out_again_only_when_what_it_shows_changed() -> None:
    board = HealthBoard()
    for name in ('/a/x_bridge', '/b/y_bridge'):
        board.update(status(name, 0, connected='true', messages_in=10, messages_out=0),
                     now=10.0)
    first = panels(board, 10.5)
    assert panels(board, 11.0) == first  # the same objects: nothing shown changed
    board.update(status('/a/x_bridge', 0, connected='true', messages_in=60, messages_out=0,
                        dropped=3), now=11.0)
    second = panels(board, 11.5)
    assert second[0] is not first[0] and second[1] is first[1]
    assert 'in    50.0/s' in text_of(board, 11.5) and 'dropped 3' in text_of(board, 11.5)
    board.set_latest('/b/y_bridge', '[/b/topic] data=7')
    assert panels(board, 11.5)[1] is not second[1]
    assert '[/b/topic] data=7' in text_of(board, 11.5)
    stale = text_of(board, 13.5)  # /b/ silent for 3.5 s, /a/ for 2.5 s: time alone changes it
    assert 'STALE /b/y_bridge' in stale and 'OK /a/x_bridge' in stale
    narrow = Console(width=60, record=True)  # laid out again for another width
    narrow.print(board.render(now=13.5))
    assert max(len(line) for line in narrow.export_text().splitlines()) == 60


def panels(board: HealthBoard, now: float) -> list[object]:
    group = board.render(now=now)
    assert isinstance(group, Group)
    return list(group.renderables)


def text_of(board: HealthBoard, now: float) -> str:
    console = Console(width=120, record=True)
    console.print(board.render(now=now))
    return console.export_text()


def test_status_once_exits_0_when_all_ok_and_1_otherwise(procs: Callable[..., Proc]) -> None:
    server, url = start_server(procs)
    procs('robot_chat_bridge', namespace='/status_t', params={'url': url})
    snapshot = procs('status', '--once', '--wait', '4')
    assert snapshot.wait_exit(30) == 0, snapshot.output
    assert 'OK    /status_t/robot_chat_bridge connected=true' in snapshot.output
    server.stop()
    degraded = procs('status', '--once', '--wait', '4')
    assert degraded.wait_exit(30) == 1, degraded.output
    assert 'WARN  /status_t/robot_chat_bridge connected=false' in degraded.output
