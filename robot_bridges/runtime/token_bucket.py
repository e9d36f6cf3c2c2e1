"""
A token bucket: at most ``rate`` events per second on average, bursts of up to ``burst``.

Sans-I/O: the caller passes the time (any monotonic clock, in seconds). Kept in its virtual
scheduling form (the time the next event is due), which also lets a backlog that a late
caller drains keep its slots instead of losing them. Used to pace a bridge's publishing to
what its subscribers take (``max_publish_rate``).
"""

from __future__ import annotations

# Sums of float intervals are off by some ulps (of a clock value that may be days large).
_EPSILON_S = 1e-6


class TokenBucket:
    """Starts full; one token per event; refills at ``rate`` tokens per second."""

    __slots__ = ('rate', 'burst', '_interval', '_tolerance', '_due')

    def __init__(self, rate: float, burst: float, now: float) -> None:
        """Create a full bucket; raises ValueError unless rate > 0 and burst >= 1."""
        if not rate > 0 or not burst >= 1:
            raise ValueError(f'a token bucket needs rate > 0 and burst >= 1, got {rate}, {burst}')
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1.0) * self._interval
        self._due = now  # when the next event is due on the steady schedule

    def take(self, now: float, catch_up: float = 0.0) -> bool:
        """
        Spend one token if there is one at ``now``; False (nothing spent) otherwise.

        ``catch_up``: how far the schedule may lag ``now`` (seconds). An idle bucket refills
        only up to ``burst`` (0, the default); events that waited in a queue drained late
        may keep up to ``catch_up`` seconds of their slots, so a busy caller does not lower
        the average rate.
        """
        due = self._due
        if due < now - catch_up:
            due = now - catch_up
        if due > now + self._tolerance + _EPSILON_S:
            return False
        self._due = due + self._interval
        return True

    def ready_at(self, now: float) -> float:
        """Return when the next token is there (``now`` or later)."""
        return max(now, self._due - self._tolerance)
