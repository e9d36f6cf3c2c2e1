"""Backoff: delays stay within bounds, grow by the factor, stop at the cap, and are jittered."""

from __future__ import annotations

from itertools import islice
import random

import pytest
from robot_bridges.runtime.backoff import Backoff


def ceilings(backoff: Backoff, count: int) -> list[float]:
    """Return the upper bound of each of the first ``count`` delays."""
    result = []
    ceiling = backoff.min_s
    for _ in range(count):
        result.append(ceiling)
        ceiling = min(backoff.max_s, ceiling * backoff.factor)
    return result


@pytest.mark.parametrize('kwargs', [
    {'min_s': 0.0}, {'min_s': -1.0}, {'min_s': 2.0, 'max_s': 1.0}, {'factor': 0.5},
])
def test_invalid_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_first_delay_is_the_minimum() -> None:
    backoff = Backoff(min_s=0.25, max_s=4.0)
    for _ in range(20):
        assert next(backoff.delays()) == 0.25


def test_every_delay_lies_between_the_minimum_and_its_ceiling() -> None:
    backoff = Backoff(min_s=0.1, max_s=3.0, factor=2.0)
    for _ in range(50):
        delays = list(islice(backoff.delays(), 12))
        for delay, ceiling in zip(delays, ceilings(backoff, 12)):
            assert backoff.min_s <= delay <= ceiling <= backoff.max_s


def test_ceiling_grows_by_the_factor_then_stays_at_the_cap() -> None:
    backoff = Backoff(min_s=0.5, max_s=10.0, factor=3.0)
    assert ceilings(backoff, 6) == [0.5, 1.5, 4.5, 10.0, 10.0, 10.0]
    # Late delays reach far above the minimum: growth really happens.
    random.seed(1)
    late = list(islice(backoff.delays(), 200))[10:]
    assert max(late) > 9.0
    assert all(delay <= 10.0 for delay in late)


def test_delays_are_jittered_not_fixed() -> None:
    backoff = Backoff(min_s=0.5, max_s=8.0)
    random.seed(2)
    fifth = {list(islice(backoff.delays(), 5))[4] for _ in range(30)}
    assert len(fifth) > 20
    assert all(0.5 <= delay <= 8.0 for delay in fifth)


def test_factor_one_keeps_the_minimum() -> None:
    backoff = Backoff(min_s=0.3, max_s=5.0, factor=1.0)
    assert list(islice(backoff.delays(), 5)) == [0.3] * 5


def test_equal_bounds_give_a_constant_delay() -> None:
    backoff = Backoff(min_s=2.0, max_s=2.0)
    assert list(islice(backoff.delays(), 4)) == [2.0] * 4


def test_each_iterator_starts_over() -> None:
    backoff = Backoff(min_s=1.0, max_s=100.0)
    used = backoff.delays()
    for _ in range(10):
        next(used)
    assert next(backoff.delays()) == 1.0
