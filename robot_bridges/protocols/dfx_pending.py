"""
Correlation state of one DFX client (sans-I/O): pending requests and result subscriptions.

* :class:`PendingRequests`: every request sent and not yet answered, with its deadline. A
  response is matched to its request by request ID, and by nothing else.
* :class:`Subscriptions`: the measurements whose results were asked for and are not finished,
  and which request ID their result chunks carry on the current connection (after a
  reconnect each is subscribed afresh under a new ID).

Pure objects: time is passed in, nothing is sent from here.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pending:
    """A request sent and not yet answered."""

    request_id: str
    action: str
    measurement_id: str
    chunk_order: int
    deadline: float


class PendingRequests:
    """
    Requests waiting for their response, oldest first; one timeout for all of them.

    Bounded: adding to a full table evicts the oldest entry (returned, so the caller can
    report it).
    """

    def __init__(self, timeout_s: float, limit: int = 10_000) -> None:
        if timeout_s <= 0 or limit < 1:
            raise ValueError(f'need timeout_s > 0 and limit >= 1, got {timeout_s}, {limit}')
        self.timeout_s = timeout_s
        self._limit = limit
        self._entries: OrderedDict[str, Pending] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, request_id: str, action: str, now: float, measurement_id: str = '',
            chunk_order: int = 0) -> Pending | None:
        """Record a request sent at ``now``; return an evicted entry if the table was full."""
        evicted = None
        if request_id in self._entries:
            del self._entries[request_id]  # an ID reused: the newer request wins
        elif len(self._entries) >= self._limit:
            evicted = self._entries.popitem(last=False)[1]
        self._entries[request_id] = Pending(request_id, action, measurement_id, chunk_order,
                                            now + self.timeout_s)
        return evicted

    def pop(self, request_id: str) -> Pending | None:
        """Take the request a response answers; None if the ID matches nothing pending."""
        return self._entries.pop(request_id, None)

    def expire(self, now: float) -> list[Pending]:
        """Remove and return the requests whose deadline has passed, oldest first."""
        expired = []
        entries = self._entries
        while entries:
            oldest = next(iter(entries.values()))
            if oldest.deadline > now:
                break
            expired.append(entries.popitem(last=False)[1])
        return expired


@dataclass(slots=True)
class _Subscription:
    request_id: str = ''  # the ID its results carry on the current connection
    acknowledged: bool = False
    last_chunk: int | None = None  # known once the chunk with ``last`` was sent


class Subscriptions:
    """
    Measurements subscribed and not finished; bounded (the oldest is forgotten first).

    A measurement is finished when the result of its last chunk arrived, or when the
    service closed it (``MEASUREMENT_CLOSED``).
    """

    def __init__(self, limit: int = 1000) -> None:
        self._limit = limit
        self._by_measurement: OrderedDict[str, _Subscription] = OrderedDict()
        self._by_request: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._by_measurement)

    def __contains__(self, measurement_id: str) -> bool:
        return measurement_id in self._by_measurement

    def want(self, measurement_id: str) -> None:
        """Add a measurement (no-op if it is already there)."""
        if measurement_id in self._by_measurement:
            return
        if len(self._by_measurement) >= self._limit:
            self.finish(next(iter(self._by_measurement)))
        self._by_measurement[measurement_id] = _Subscription()

    def sent(self, measurement_id: str, request_id: str) -> None:
        """Record the ID a subscribe request went out with; results will carry it."""
        subscription = self._by_measurement.get(measurement_id)
        if subscription is None:
            return
        self._by_request.pop(subscription.request_id, None)
        subscription.request_id = request_id
        subscription.acknowledged = False
        self._by_request[request_id] = measurement_id
        if len(self._by_request) > 2 * self._limit:
            del self._by_request[next(iter(self._by_request))]

    def acknowledged(self, request_id: str) -> str | None:
        """Mark the subscription of ``request_id`` acknowledged; return its measurement."""
        measurement_id = self._by_request.get(request_id)
        subscription = self._by_measurement.get(measurement_id or '')
        if subscription is not None:
            subscription.acknowledged = True
        return measurement_id

    def measurement_of(self, request_id: str) -> str | None:
        """Return the measurement whose results carry ``request_id`` (None: not a result)."""
        return self._by_request.get(request_id)

    def last_chunk(self, measurement_id: str, chunk_order: int) -> None:
        """Record the order of a measurement's last chunk."""
        subscription = self._by_measurement.get(measurement_id)
        if subscription is not None:
            subscription.last_chunk = chunk_order

    def result(self, measurement_id: str, chunk_order: int) -> bool:
        """Record a result; finish and return True if it was the last chunk's."""
        subscription = self._by_measurement.get(measurement_id)
        if subscription is None or subscription.last_chunk is None:
            return False
        if chunk_order != subscription.last_chunk:
            return False
        self.finish(measurement_id)
        return True

    def finish(self, measurement_id: str) -> None:
        """
        Forget a measurement: it is not subscribed again after a reconnect.

        Results still on their way on this connection keep their measurement (the
        request-ID map is bounded and emptied on disconnect).
        """
        self._by_measurement.pop(measurement_id, None)

    def state(self, measurement_id: str) -> tuple[str, bool] | None:
        """Return (request ID on this connection or '', acknowledged); None if not wanted."""
        subscription = self._by_measurement.get(measurement_id)
        if subscription is None:
            return None
        return subscription.request_id, subscription.acknowledged

    def unsent(self) -> list[str]:
        """Return the measurements not yet subscribed on this connection."""
        return [mid for mid, s in self._by_measurement.items() if not s.request_id]

    def disconnected(self) -> None:
        """Forget every request ID: a new connection needs new subscribe requests."""
        self._by_request.clear()
        for subscription in self._by_measurement.values():
            subscription.request_id = ''
            subscription.acknowledged = False

    def unfinished(self) -> list[str]:
        """Return the measurements to subscribe on a new connection, oldest first."""
        return list(self._by_measurement)
