"""
The per-bridge health view: one panel per bridge, built from its /diagnostics status.

Shared by the ``status`` executable (a terminal stand-in for rqt_robot_monitor) and the main
job's live view. :class:`HealthBoard` keeps the newest status of each bridge and the rates
derived from successive ones; :meth:`HealthBoard.render` draws rich panels (each drawn again
only when what it shows changed), :meth:`HealthBoard.lines` plain text for pipes and CI logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import time
from typing import Iterable

from diagnostic_msgs.msg import DiagnosticStatus
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.segment import Segment
from rich.text import Text

LEVELS = {0: ('OK', 'green'), 1: ('WARN', 'yellow'), 2: ('ERROR', 'red'), 3: ('STALE', 'magenta')}
# A bridge publishes diagnostics at 1 Hz: silent for this long, it is shown as stale.
STALE_AFTER_S = 3.0
# What each panel shows, in this order, when the bridge reports it.
COUNTERS = ('decode_errors', 'dropped', 'reconnects', 'link_aborts')
WAITING = 'waiting for bridge diagnostics on /diagnostics ...'


@dataclass(frozen=True)
class Shown:
    """What one bridge's panel shows: equal values, the same panel."""

    name: str
    level: int
    message: str
    up: bool
    rates: tuple[str, str]
    counters: tuple[str, ...]
    latest: str
    last_error: str


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

    def shown(self, now: float) -> Shown:
        """Return what this bridge's panel shows at ``now``."""
        values = self.values
        return Shown(
            self.name, self.effective_level(now), self.message, values.get('connected') == 'true',
            (f'in {self.rate_in:7.1f}/s', f'out {self.rate_out:7.1f}/s'),
            tuple(f'{key} {values[key]}' for key in COUNTERS if key in values), self.latest,
            values.get('last_error', ''))


class HealthBoard:
    """Every bridge seen on /diagnostics, by node name, in the order first seen."""

    def __init__(self) -> None:
        self.bridges: dict[str, BridgeHealth] = {}
        self._panels: dict[str, tuple[Shown, Drawn]] = {}

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

    def shown(self, now: float | None = None) -> tuple[Shown, ...]:
        """Return what the panels show at ``now``: while it is equal, a redraw changes nothing."""
        now = time.monotonic() if now is None else now
        return tuple(health.shown(now) for health in list(self.bridges.values()))

    def render(self, now: float | None = None) -> RenderableType:
        """Return one rich panel per bridge; a panel whose content is unchanged is reused."""
        if not self.bridges:
            return Text(WAITING)
        return Group(*(self._drawn(shown) for shown in self.shown(now)))

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

    def _drawn(self, shown: Shown) -> Drawn:
        cached = self._panels.get(shown.name)
        if cached is None or cached[0] != shown:
            cached = self._panels[shown.name] = (shown, Drawn(panel(shown)))
        return cached[1]


def panel(shown: Shown) -> Panel:
    """Return the rich panel of one bridge."""
    label, colour = LEVELS[shown.level]
    # One line of fields two spaces apart (a Text: a table's column measuring costs more
    # than the rest of the panel); wrapped at spaces on a narrow terminal.
    counters = Text('  ').join([
        Text('connected' if shown.up else 'disconnected', style='green' if shown.up else 'red'),
        *map(Text, shown.rates), *map(Text, shown.counters)])
    rows: list[RenderableType] = [counters]
    if shown.latest:
        rows.append(Text(shown.latest, overflow='ellipsis', no_wrap=True))
    if shown.last_error:
        rows.append(Text(f'last error: {shown.last_error}', style='dim',
                         overflow='ellipsis', no_wrap=True))
    title = Text.assemble((label, colour), f' {shown.name}  ', (shown.message, 'dim'))
    return Panel(Group(*rows), title=title, title_align='left', border_style=colour)


class Drawn:
    """
    A renderable laid out once per width: its lines of segments are kept and replayed.

    Laying out a panel (measuring its table, wrapping, the border) is the costly part of a
    redraw; a panel whose content did not change is the same lines again.
    """

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable
        self._layout: tuple[int, int | None] | None = None
        self._lines: list[list[Segment]] = []

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Yield the kept segments, laying the renderable out again for another width."""
        layout = (options.max_width, options.height)
        if layout != self._layout:
            self._lines = console.render_lines(self.renderable, options, new_lines=True)
            self._layout = layout
        for line in self._lines:
            yield from line


def _rate(before: dict[str, str], after: dict[str, str], key: str, elapsed: float) -> float:
    try:
        return max(0.0, (int(after[key]) - int(before[key])) / elapsed)
    except (KeyError, ValueError):
        return 0.0
