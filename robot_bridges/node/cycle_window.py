"""
Rate and cycle-time percentiles of a repeating event over the last completed window.

The asyncio loop thread ticks it once per cycle (one append, no lock); once a window is
complete, its summary replaces :attr:`CycleWindow.summary` in one assignment, which the
executor thread reads for diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass

# At most this many cycle times are kept per window (about 100k cycles/s for 1 s windows).
MAX_SAMPLES = 100_000


@dataclass(frozen=True, slots=True)
class CycleSummary:
    """One window: cycles per second, cycle time p50/p99 in milliseconds, when it ended."""

    rate_hz: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    ended: float = 0.0


class CycleWindow:
    """Summarizes the intervals between :meth:`tick` calls, one window at a time."""

    def __init__(self, window_s: float = 1.0) -> None:
        """Summarize every ``window_s`` seconds of ticks."""
        self._window_s = window_s
        self.summary = CycleSummary()
        self._intervals: list[float] = []
        self._last: float | None = None
        self._start = 0.0

    def reset(self) -> None:
        """Forget the current window and the summary (the cycle stopped or restarts)."""
        self._intervals = []
        self._last = None
        self.summary = CycleSummary()

    def tick(self, now: float) -> None:
        """Record one cycle ending at ``now`` (monotonic seconds)."""
        last, self._last = self._last, now
        if last is None:
            self._start = now
            return
        intervals = self._intervals
        if len(intervals) < MAX_SAMPLES:
            intervals.append(now - last)
        if now - self._start >= self._window_s:
            self.summary = summarize(intervals, now - self._start, now)
            self._intervals = []
            self._start = now

    def current(self, now: float) -> CycleSummary:
        """Return the latest summary, or an empty one if no window ended recently."""
        summary = self.summary
        return summary if now - summary.ended <= 2 * self._window_s + 1.0 else CycleSummary()


def summarize(intervals: list[float], span_s: float, ended: float) -> CycleSummary:
    """Rate over ``span_s`` and nearest-rank p50/p99 of ``intervals`` (seconds)."""
    if not intervals or span_s <= 0:
        return CycleSummary(ended=ended)
    ordered = sorted(intervals)
    last = len(ordered) - 1
    return CycleSummary(rate_hz=len(ordered) / span_s,
                        p50_ms=ordered[round(0.50 * last)] * 1e3,
                        p99_ms=ordered[round(0.99 * last)] * 1e3,
                        ended=ended)
