"""
The per-bridge health view: one panel per bridge, built from its /diagnostics status.

Shared by the ``status`` executable (a terminal stand-in for rqt_robot_monitor) and the main
job's live view. :class:`HealthBoard` keeps the newest status of each bridge and the rates
derived from successive ones; :meth:`HealthBoard.render` draws rich panels,
:meth:`HealthBoard.lines` plain text for pipes and CI logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import time
from typing import Iterable

from diagnostic_msgs.msg import DiagnosticStatus
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

LEVELS = {0: ('OK', 'green'), 1: ('WARN', 'yellow'), 2: ('ERROR', 'red'), 3: ('STALE', 'magenta')}
# A bridge publishes diagnostics at 1 Hz: silent for this long, it is shown as stale.
STALE_AFTER_S = 3.0
# What each panel shows, in this order, when the bridge reports it.
COUNTERS = ('decode_errors', 'dropped', 'reconnects', 'link_aborts')


@dataclass
class BridgeHealth:
    """The newest status of one bridge and the message rates since the one before."""

    name: str
    level: int = 0
    message: str = ''
    values: dict[str, str] = field(default_factory=dict)
    received_at: float = 0.0
    rate_in: float = 0.0
    rate_out: float = 0.0
    latest: str = ''

    def effective_level(self, now: float) -> int:
        """Return the level, STALE when no status arrived for STALE_AFTER_S."""
        return 3 if now - self.received_at > STALE_AFTER_S else self.level


class HealthBoard:
    """Every bridge seen on /diagnostics, by node name, in the order first seen."""

    def __init__(self) -> None:
        self.bridges: dict[str, BridgeHealth] = {}

    def update(self, status: DiagnosticStatus, now: float | None = None) -> None:
        """Take one status; statuses without a ``connected`` value are not bridges."""
        values = {kv.key: kv.value for kv in status.values}
        if 'connected' not in values or 'messages_in' not in values:
            return
        now = time.monotonic() if now is None else now
        health = self.bridges.setdefault(status.name, BridgeHealth(status.name))
        elapsed = now - health.received_at
        if health.values and 0 < elapsed < 10:
            health.rate_in = _rate(health.values, values, 'messages_in', elapsed)
            health.rate_out = _rate(health.values, values, 'messages_out', elapsed)
        health.level = int.from_bytes(status.level, 'little') if isinstance(
            status.level, bytes) else int(status.level)
        health.message = status.message
        health.values = values
        health.received_at = now

    def set_latest(self, name: str, line: str) -> None:
        """Record the latest message line of bridge ``name`` (the main job's topic echo)."""
        if name in self.bridges:
            self.bridges[name].latest = line

    def all_ok(self, now: float | None = None) -> bool:
        """Whether at least one bridge is known and every bridge is OK and fresh."""
        now = time.monotonic() if now is None else now
        return bool(self.bridges) and all(
            b.effective_level(now) == 0 for b in self.bridges.values())

    def render(self, now: float | None = None) -> RenderableType:
        """Return one rich panel per bridge."""
        now = time.monotonic() if now is None else now
        if not self.bridges:
            return Text('waiting for bridge diagnostics on /diagnostics ...')
        return Group(*(self._panel(b, now) for b in self.bridges.values()))

    def lines(self, now: float | None = None) -> Iterable[str]:
        """Return one plain line per bridge (for pipes and logs)."""
        now = time.monotonic() if now is None else now
        for health in self.bridges.values():
            label = LEVELS[health.effective_level(now)][0]
            values = health.values
            counters = ' '.join(f'{key}={values[key]}' for key in COUNTERS if key in values)
            yield (f'{label:5} {health.name} connected={values.get("connected")} '
                   f'in={health.rate_in:.0f}/s out={health.rate_out:.0f}/s {counters}'
                   + (f' last_error={values["last_error"]!r}' if values.get('last_error')
                      else ''))

    def _panel(self, health: BridgeHealth, now: float) -> Panel:
        label, colour = LEVELS[health.effective_level(now)]
        values = health.values
        up = values.get('connected') == 'true'
        counters = Table.grid(padding=(0, 2))
        counters.add_row(
            Text('connected' if up else 'disconnected', style='green' if up else 'red'),
            f'in {health.rate_in:7.1f}/s', f'out {health.rate_out:7.1f}/s',
            *(f'{key} {values[key]}' for key in COUNTERS if key in values))
        rows: list[RenderableType] = [counters]
        if health.latest:
            rows.append(Text(health.latest, overflow='ellipsis', no_wrap=True))
        if values.get('last_error'):
            rows.append(Text(f'last error: {values["last_error"]}', style='dim',
                             overflow='ellipsis', no_wrap=True))
        title = f'[{colour}]{label}[/] {health.name}  [dim]{health.message}[/]'
        return Panel(Group(*rows), title=title, title_align='left', border_style=colour)


def _rate(before: dict[str, str], after: dict[str, str], key: str, elapsed: float) -> float:
    try:
        return max(0.0, (int(after[key]) - int(before[key])) / elapsed)
    except (KeyError, ValueError):
        return 0.0
