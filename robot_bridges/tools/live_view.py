"""
A :class:`HealthBoard` on a terminal: its panels, and printed lines scrolling above them.

rich's ``Live`` would redraw every panel four times a second from a thread of its own, and
once more for every line printed above them. Here nothing is drawn but by :meth:`tick`,
called by the caller's loop: at most once per ``period``, only when a panel's content
changed or lines were printed, and a panel whose content is unchanged is not laid out again
(:class:`bridge_view.Drawn`). Lines printed meanwhile (``print`` from any thread) wait for
the next tick and go above the panels in one write. What goes to ``sys.stderr`` (errors,
rare) is left to rich: shown above the panels at once, with a redraw.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text
from robot_bridges.tools.bridge_view import HealthBoard, Shown

# The panels change once a second at most (diagnostics at 1 Hz, one line per topic and
# second); a quarter of a second is as often as anything new can be shown.
PERIOD_S = 0.25


class PrintedLines(io.TextIOBase):
    """A text stream (``sys.stdout`` under the view) that keeps whole lines until taken."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._partial = ''

    def writable(self) -> bool:
        """Return True: this stream takes writes."""
        return True

    def write(self, text: str) -> int:
        """Keep ``text``; its lines are whole once their newline is written."""
        with self._lock:
            *whole, self._partial = (self._partial + text).split('\n')
            self._lines.extend(whole)
        return len(text)

    def take(self, partial: bool = False) -> list[str]:
        """Return the whole lines written since the last call (and an unfinished one, if asked)."""
        with self._lock:
            lines, self._lines = self._lines, []
            if partial and self._partial:
                lines.append(self._partial)
                self._partial = ''
        return lines


class LiveView:
    """
    The board's panels on ``console``, drawn by :meth:`tick`; use it as a context manager.

    Inside it ``sys.stdout`` is a :class:`PrintedLines`, so that a ``print`` does not break
    the display: the lines appear above the panels at the next tick, and any left at exit.
    ``console`` keeps writing to the ``sys.stdout`` of the moment the view is entered.
    """

    def __init__(self, board: HealthBoard, console: Console, period: float = PERIOD_S) -> None:
        self._board = board
        self._console = console
        self._period = period
        self._printed = PrintedLines()
        self._shown: tuple[Shown, ...] | None = None
        self._next_draw = 0.0
        self._live = Live(console=console, auto_refresh=False, redirect_stdout=False)
        self._stack = contextlib.ExitStack()
        self.draws = 0

    def __enter__(self) -> LiveView:
        """Start the display, with the board as it is, and take over ``sys.stdout``."""
        self._console.file = self._console.file  # pinned: not the stdout redirected below
        try:
            self._stack.enter_context(self._live)
            self._stack.callback(self._draw_last)
            self._stack.enter_context(contextlib.redirect_stdout(self._printed))
            self.tick()
        except BaseException:
            self._stack.close()  # the terminal and sys.stdout as they were
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        """Give ``sys.stdout`` back, draw what is left and stop the display."""
        self._stack.close()

    def tick(self, now: float | None = None) -> bool:
        """Draw, if ``period`` has passed since the last draw and there is anything new."""
        now = time.monotonic() if now is None else now
        if now < self._next_draw:
            return False
        return self._draw(now, self._printed.take())

    def _draw(self, now: float, lines: list[str]) -> bool:
        shown = self._board.shown(now)
        if not lines and shown == self._shown:
            return False
        self._shown = shown
        self._next_draw = now + self._period
        self.draws += 1
        with self._console:  # one write to the terminal
            if lines:  # above the panels (as they were: they are redrawn right after)
                self._console.print(Text('\n').join(Text.from_ansi(line) for line in lines))
            self._live.update(self._board.render(now), refresh=True)
        return True

    def _draw_last(self) -> None:
        self._draw(time.monotonic(), self._printed.take(partial=True))
