"""The failure report of the test helpers: what a failing test shows of what it started."""

from __future__ import annotations

import explain
from fault_proxy import FaultProxy
from ros_helpers import free_port, redact_argv


class Part:
    def __init__(self, text: str) -> None:
        self.text = text

    def explain(self) -> str:
        return self.text


class Broken:
    def explain(self) -> str:
        raise RuntimeError('no state')


def test_tail_keeps_the_last_lines_cut_to_length() -> None:
    lines = [f'line {n}' for n in range(100)] + ['x' * 1000]
    text = explain.tail(lines, 5)
    assert text.splitlines()[0] == '[... 96 earlier lines]'
    assert text.splitlines()[1:5] == ['line 96', 'line 97', 'line 98', 'line 99']
    assert text.splitlines()[5] == 'x' * explain.LINE_CHARS + ' [...]'


def test_explain_all_names_every_part_even_a_broken_one() -> None:
    explain.reset()
    explain.track(Part('first'))
    explain.track(Broken())
    explain.track(Part('y' * (explain.PART_CHARS + 100)))
    text = explain.explain_all()
    assert text.startswith('first\n\nBroken: explain() raised RuntimeError')
    assert text.endswith('[...]' + 'y' * explain.PART_CHARS)
    explain.reset()
    assert explain.explain_all() == ''


def test_secrets_on_a_command_line_are_not_shown() -> None:
    assert redact_argv(['sim', '--port', '1', '--stream-key', 'k3y', '--token=t0k', '--ros-args',
                        '-p', 'stream_key:=k3y', '-p', 'url:=ws://h', '-p', 'token:=t0k']) == [
        'sim', '--port', '1', '--stream-key', '***', '--token=***', '--ros-args',
        '-p', 'stream_key:=***', '-p', 'url:=ws://h', '-p', 'token:=***']
    assert redact_argv(['b', '-p', 'url:=wss://u:pw@h:1/p?token=t0k', '-p', 'host:=u:pw@h',
                        '-p', 'path:=/socket?token=t0k', '--url', 'ws://u:pw@h/']) == [
        'b', '-p', 'url:=wss://h:1/p', '-p', 'host:=***@h', '-p', 'path:=/socket?***',
        '--url', 'ws://h/']


def test_a_fault_proxy_reports_its_mode_and_counters_after_close() -> None:
    explain.reset()
    proxy = FaultProxy('127.0.0.1', free_port())
    proxy.blackhole()
    assert 'mode blackhole, accepted 0' in proxy.explain()
    proxy.close()
    text = explain.explain_all()
    assert text.startswith(f'--- fault proxy 127.0.0.1:{proxy.port} -> ')
    assert 'mode blackhole' in text and text.endswith('(then closed by the test)')
