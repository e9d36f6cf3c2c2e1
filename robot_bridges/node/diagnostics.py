"""Counters every bridge keeps, and their rendering as a diagnostic_msgs/DiagnosticStatus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue


@dataclass
class LinkStats:
    """
    Counters of one bridge's link. Written on the asyncio thread, read on the executor.

    The asyncio loop thread is the only writer; the executor reads them for diagnostics and
    may see a value one update old, never a torn one.
    """

    connected: bool = False
    messages_in: int = 0
    messages_out: int = 0
    decode_errors: int = 0
    dropped: int = 0
    reconnects: int = 0
    link_aborts: int = 0
    # Non-finite numbers (NaN, infinities) written as null to keep published JSON strict.
    non_finite_nulled: int = 0
    last_error: str = ''
    failed: bool = False


def to_status(name: str, hardware_id: str, lifecycle_state: str, stats: LinkStats,
              extra: Iterable[tuple[str, str]] = (),
              warning: str | None = None) -> DiagnosticStatus:
    """
    Render the counters; the level says whether the bridge is doing its job.

    ``warning`` (why a connected bridge still gets nothing useful) turns OK into WARN.
    """
    if stats.failed:
        level, message = DiagnosticStatus.ERROR, stats.last_error
    elif lifecycle_state != 'active':
        level, message = DiagnosticStatus.OK, f'lifecycle state {lifecycle_state}'
    elif stats.connected and warning:
        level, message = DiagnosticStatus.WARN, f'connected, but {warning}'
    elif stats.connected:
        level, message = DiagnosticStatus.OK, 'connected'
    else:
        level = DiagnosticStatus.WARN
        message = 'disconnected' + (f': {stats.last_error}' if stats.last_error else '')
    values = [
        ('connected', str(stats.connected).lower()),
        ('lifecycle_state', lifecycle_state),
        ('messages_in', str(stats.messages_in)),
        ('messages_out', str(stats.messages_out)),
        ('decode_errors', str(stats.decode_errors)),
        ('dropped', str(stats.dropped)),
        ('reconnects', str(stats.reconnects)),
        ('link_aborts', str(stats.link_aborts)),
        ('non_finite_nulled', str(stats.non_finite_nulled)),
        ('last_error', stats.last_error),
        *extra,
    ]
    return DiagnosticStatus(
        level=level, name=name, message=message, hardware_id=hardware_id,
        values=[KeyValue(key=k, value=v) for k, v in values])
