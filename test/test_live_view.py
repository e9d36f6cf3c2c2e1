"""The live view draws only when something new is to be shown, printed lines above it."""

from __future__ import annotations

import io
import re
import sys
import time

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
import pytest
from rich.console import Console
from robot_bridges.tools.bridge_view import HealthBoard
from robot_bridges.tools.live_view import LiveView, PrintedLines


def status(name: str, messages_in: int) -> DiagnosticStatus:
    return DiagnosticStatus(name=name, level=bytes([0]), message='m', values=[
        KeyValue(key='connected', value='true'),
        KeyValue(key='messages_in', value=str(messages_in)),
        KeyValue(key='messages_out', value='0')])


ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')


class Terminal(io.StringIO):
    """What a terminal was sent, without its escape sequences."""

    def text(self, start: int = 0) -> str:
        return ANSI.sub('', self.getvalue()[start:])


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> tuple[Console, Terminal]:
    monkeypatch.setenv('TERM', 'xterm-256color')  # not a dumb terminal, whatever CI's is
    out = Terminal()
    return Console(file=out, force_terminal=True, width=100, height=40), out


def test_draws_at_most_once_per_period_and_only_when_a_panel_changed(
        terminal: tuple[Console, Terminal]) -> None:
    console, out = terminal
    board = HealthBoard()
    t = time.monotonic() + 10  # later than the first draw's period, on entering
    with LiveView(board, console, period=0.25) as view:
        assert view.draws == 1 and 'waiting for bridge diagnostics' in out.text()
        board.update(status('/a/x_bridge', 100), now=t)
        assert view.tick(t) and 'OK /a/x_bridge' in out.text()
        assert not view.tick(t + 0.5)  # nothing changed: nothing drawn
        board.update(status('/a/x_bridge', 300), now=t + 1.0)
        drawn = len(out.getvalue())
        assert view.tick(t + 1.0) and 'in   200.0/s' in out.text(drawn)
        board.set_latest('/a/x_bridge', '[/a/topic] data=1')
        assert not view.tick(t + 1.2)  # changed, but drawn less than a period ago
        assert view.tick(t + 1.3) and '[/a/topic] data=1' in out.text(drawn)
        assert not view.tick(t + 2.0)
        assert view.tick(t + 4.5) and 'STALE /a/x_bridge' in out.text()  # time alone
        assert view.draws == 5


def test_printed_lines_wait_for_the_next_tick_and_go_above_the_panels(
        terminal: tuple[Console, Terminal]) -> None:
    console, out = terminal
    board = HealthBoard()
    t = time.monotonic() + 10
    stdout = sys.stdout
    with LiveView(board, console) as view:
        board.update(status('/a/x_bridge', 1), now=t)
        assert view.tick(t)
        assert isinstance(sys.stdout, PrintedLines)
        drawn = len(out.getvalue())
        print('[/robot_chat/inbox] type=message')  # not rich markup: shown as it is
        print('second line')
        assert len(out.getvalue()) == drawn  # not yet
        assert view.tick(t + 1)
        new = out.text(drawn)
        assert new.index('[/robot_chat/inbox] type=message') < new.index('second line') < \
            new.index('OK /a/x_bridge')
        print('unfinished', end='')
    assert sys.stdout is stdout
    assert 'unfinished' in out.text(drawn)


def test_printed_lines_are_whole_lines_however_they_are_written() -> None:
    lines = PrintedLines()
    lines.write('one')
    lines.write(' line\ntwo\nthr')
    assert lines.take() == ['one line', 'two']
    assert lines.take() == []
    assert lines.take(partial=True) == ['thr'] and lines.take(partial=True) == []
