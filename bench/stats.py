"""Figures of one measured path, the targets, and the table that compares bridge and floor."""

from __future__ import annotations

from dataclasses import dataclass
import math
import statistics
from typing import Any, Sequence

# The targets for every case. On a shared 2-core machine an absolute p99 fails for the floor
# itself whenever another process runs, so p99 is judged against the floor of the same run.
P50_MARGIN_MS = 0.3
P99_RATIO_MAX = 1.5
CEILING_RATIO_MIN = 0.9


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile, q in 0..100, interpolating linearly between ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class PathResult:
    """What the subscriber saw for one path (bridge or floor) of one case, in one round."""

    p50_ms: float
    p99_ms: float
    latency_samples: int
    burst_sent: int
    burst_delivered: int
    burst_unique: int
    burst_rate: float
    hop_cpu_us: float  # CPU time of the bridge (floor: raw hop) process per burst message
    subscriber_busy: float  # subscriber CPU time over wall time during the burst (1 = a core)

    @property
    def lost(self) -> int:
        """Burst messages that never arrived (duplicates do not make up for losses)."""
        return self.burst_sent - self.burst_unique

    @classmethod
    def from_reports(cls, paced: dict[str, Any], burst: dict[str, Any], warm_up: int,
                     burst_sent: int, hop_cpu_s: float, subscriber_busy: float) -> PathResult:
        """Build from the subscriber's phase reports, dropping the first ``warm_up`` samples."""
        latencies_ms = [ns / 1e6 for ns in paced['latencies_ns'][warm_up:]]
        span_s = (burst['last_ns'] - burst['first_ns']) / 1e9
        rate = burst['delivered'] / span_s if span_s > 0 else math.nan
        return cls(percentile(latencies_ms, 50), percentile(latencies_ms, 99),
                   len(latencies_ms), burst_sent, burst['delivered'], burst['unique'], rate,
                   hop_cpu_s / burst_sent * 1e6, subscriber_busy)

    @classmethod
    def median_of(cls, rounds: Sequence[PathResult]) -> PathResult:
        """Combine rounds: the median of each figure, the sum of each count."""
        def median(name: str) -> float:
            return statistics.median(getattr(r, name) for r in rounds)

        def total(name: str) -> int:
            return sum(getattr(r, name) for r in rounds)

        return cls(median('p50_ms'), median('p99_ms'), total('latency_samples'),
                   total('burst_sent'), total('burst_delivered'), total('burst_unique'),
                   median('burst_rate'), median('hop_cpu_us'), median('subscriber_busy'))


@dataclass(frozen=True)
class CeilingPoint:
    """One paced burst of the intake-ceiling sweep."""

    pace: int  # msg/s asked of the paced publisher
    sent: int
    delivered_rate: float  # delivered / (last - first arrival)
    lost: int

    @classmethod
    def from_report(cls, pace: int, sent: int, burst: dict[str, Any]) -> CeilingPoint:
        """Build from the subscriber's burst report."""
        span_s = (burst['last_ns'] - burst['first_ns']) / 1e9
        rate = burst['delivered'] / span_s if span_s > 0 else math.nan
        return cls(pace, sent, rate, sent - burst['unique'])


def ceiling_of(sweep: Sequence[CeilingPoint]) -> float:
    """Return the best delivered rate of a sweep among its points without loss (NaN: none)."""
    rates = [point.delivered_rate for point in sweep
             if not point.lost and math.isfinite(point.delivered_rate)]
    return max(rates) if rates else math.nan


@dataclass(frozen=True)
class CaseResult:
    """Bridge, floor and intake ceiling of one case, measured in the same run, round by round."""

    name: str
    bridge_rounds: Sequence[PathResult]
    floor_rounds: Sequence[PathResult]
    ceiling_rounds: Sequence[Sequence[CeilingPoint]]
    # The bridge again, with max_publish_rate set below the round's ceiling.
    paced_rounds: Sequence[PathResult]
    paced_rates: Sequence[float]

    @property
    def bridge(self) -> PathResult:
        """Return the bridge path, combined over all rounds."""
        return PathResult.median_of(self.bridge_rounds)

    @property
    def floor(self) -> PathResult:
        """Return the floor path, combined over all rounds."""
        return PathResult.median_of(self.floor_rounds)

    @property
    def paced(self) -> PathResult:
        """Return the bridge paced with max_publish_rate, combined over all rounds."""
        return PathResult.median_of(self.paced_rounds)

    @property
    def p50_delta_ms(self) -> float:
        """Bridge p50 minus floor p50."""
        return self.bridge.p50_ms - self.floor.p50_ms

    @property
    def ceiling(self) -> float:
        """Return the intake ceiling, median over rounds."""
        return statistics.median(ceiling_of(sweep) for sweep in self.ceiling_rounds)

    @property
    def ceiling_ratio(self) -> float:
        """Bridge burst rate over the ceiling of the same round, median over rounds."""
        return _ratio(self.bridge_rounds, self.ceiling_rounds)

    @property
    def paced_ratio(self) -> float:
        """Return the paced bridge's burst rate over the ceiling of the same round (median)."""
        return _ratio(self.paced_rounds, self.ceiling_rounds)

    def verdicts(self) -> tuple[bool, bool, bool, bool, bool]:
        """
        Check p50 margin, p99 ratio to the floor, no loss, burst rates against the ceiling.

        Latency is the bridge's as shipped (no rate limit); loss counts both bridge runs; the
        burst rate is judged twice: as shipped, and paced as the README tells users to.
        """
        return (self.p50_delta_ms <= P50_MARGIN_MS,
                self.bridge.p99_ms <= P99_RATIO_MAX * self.floor.p99_ms,
                self.bridge.lost == 0 and self.paced.lost == 0,
                self.ceiling_ratio >= CEILING_RATIO_MIN, self.paced_ratio >= CEILING_RATIO_MIN)

    def sweeps(self) -> str:
        """Say what each round's ceiling sweep delivered."""
        return '; '.join(', '.join(f'{p.pace:,}->{p.delivered_rate:,.0f}'
                                   + (f' ({p.lost} lost)' if p.lost else '') for p in sweep)
                         for sweep in self.ceiling_rounds)

    def spread(self) -> str:
        """Say how much the rounds differed (bridge / floor per round)."""
        pairs = list(zip(self.bridge_rounds, self.floor_rounds))
        p99 = ', '.join(f'{b.p99_ms:.2f}/{f.p99_ms:.2f}' for b, f in pairs)
        rate = ', '.join(f'{b.burst_rate:,.0f}/{f.burst_rate:,.0f}' for b, f in pairs)
        return f'p99 ms {p99}; burst rate {rate}'


def _ratio(rounds: Sequence[PathResult], sweeps: Sequence[Sequence[CeilingPoint]]) -> float:
    return statistics.median(path.burst_rate / ceiling_of(sweep)
                             for path, sweep in zip(rounds, sweeps))


def _verdict(ok: bool) -> str:
    return 'PASS' if ok else 'FAIL'


def table(results: Sequence[CaseResult]) -> str:
    """Render the markdown table, one row per case; each figure is bridge / floor."""
    lines = [
        '| Case | p50 ms bridge / floor | p50 Δ ms (≤ +0.3) | p99 ms bridge / floor (≤ 1.5×) '
        '| Burst delivered, lost: bridge / paced / floor (0 lost) '
        '| Burst rate msg/s bridge / paced / floor / ceiling '
        '| Bridge / ceiling: unlimited, paced (≥ 0.9) |',
        '|---|---|---|---|---|---|---|',
    ]
    for case in results:
        b, f, p = case.bridge, case.floor, case.paced
        p50_ok, p99_ok, lost_ok, rate_ok, paced_ok = (_verdict(v) for v in case.verdicts())
        lines.append(
            f'| {case.name} | {b.p50_ms:.3f} / {f.p50_ms:.3f} '
            f'| {case.p50_delta_ms:+.3f} {p50_ok} '
            f'| {b.p99_ms:.3f} / {f.p99_ms:.3f} {p99_ok} '
            f'| {b.burst_delivered:,}, {b.lost} / {p.burst_delivered:,}, {p.lost} / '
            f'{f.burst_delivered:,}, {f.lost} {lost_ok} '
            f'| {b.burst_rate:,.0f} / {p.burst_rate:,.0f} / {f.burst_rate:,.0f} / '
            f'{case.ceiling:,.0f} '
            f'| {case.ceiling_ratio:.2f} {rate_ok}, {case.paced_ratio:.2f} {paced_ok} |')
    return '\n'.join(lines)
