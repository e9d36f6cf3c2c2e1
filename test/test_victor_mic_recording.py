"""The mic recording: compile semantics (mode, ties, unknowns), bounds, and thread use."""

from __future__ import annotations

from collections import Counter
import random
import threading

import numpy as np
import pytest
from robot_bridges.mic_recording import compile_samples, MicRecording, MicSummary


def reference(directions: list[int], confidences: list[float]) -> MicSummary | None:
    """Compile plainly, without numpy, to check the numpy version against."""
    valid = [(d, c) for d, c in zip(directions, confidences) if 0 <= d < 12]
    if not valid:
        return None
    votes = Counter(d for d, _ in valid)
    most = max(votes.values())
    winner = next(d for d, _ in valid if votes[d] == most)  # first seen among the tied
    picked = [c for d, c in valid if d == winner]
    return MicSummary(winner, sum(picked) / len(picked), len(valid), most)


def test_scripted_recording_with_known_answer() -> None:
    # 9 wins with 4 votes over 3 (3 votes) and the unknown 12 (5 samples, ignored).
    directions = [12, 3, 9, 12, 9, 3, 12, 9, 12, 3, 9, 12, 5]
    confidences = [999, 100, 140, 999, 150, 120, 999, 160, 999, 110, 158, 999, 80]
    summary = compile_samples(directions, confidences)
    assert summary == MicSummary(direction=9, confidence=152.0, samples=8, votes=4)


def test_tie_goes_to_the_direction_seen_first() -> None:
    # 7 and 2 both have 3 votes; 7 came first (after an ignored 12 and a higher index).
    directions = [12, 7, 2, 2, 7, 12, 2, 7, 4]
    confidences = [500, 10, 20, 30, 40, 500, 50, 70, 5]
    summary = compile_samples(directions, confidences)
    assert summary is not None
    assert (summary.direction, summary.votes, summary.samples) == (7, 3, 7)
    assert summary.confidence == pytest.approx(40.0)
    # ... and the other way round when 2 comes first.
    summary = compile_samples([2, 7, 7, 2], [1, 2, 3, 4])
    assert summary is not None and summary.direction == 2
    assert summary.confidence == pytest.approx(2.5)


def test_seed_example_value() -> None:
    # PROTOCOLS.md: {'final_dominant': 9, 'final_confidence': 150.22857142857143}, i.e. 35
    # samples of direction 9 whose confidences sum to 5258.
    confidences = [150] * 34 + [158]
    summary = compile_samples([9] * 35 + [1] * 10, confidences + [1] * 10)
    assert summary is not None and summary.direction == 9
    assert summary.confidence == pytest.approx(150.22857142857143, rel=1e-15)


@pytest.mark.parametrize('directions', [[], [12], [12, 12, 13, 200, -1]])
def test_no_valid_sample(directions: list[int]) -> None:
    assert compile_samples(directions, [1.0] * len(directions)) is None


def test_random_recordings_agree_with_the_plain_version() -> None:
    rng = random.Random(4)
    for _ in range(200):
        size = rng.randrange(0, 60)
        directions = [rng.choice(range(13)) for _ in range(size)]
        confidences = [float(rng.randrange(0, 300)) for _ in range(size)]
        expected = reference(directions, confidences)
        got = compile_samples(directions, confidences)
        if expected is None:
            assert got is None
        else:
            assert got is not None
            assert (got.direction, got.samples, got.votes) == \
                (expected.direction, expected.samples, expected.votes)
            assert got.confidence == pytest.approx(expected.confidence, rel=1e-12)


def test_mismatched_inputs() -> None:
    with pytest.raises(ValueError):
        compile_samples([1, 2], [1.0])


def test_recording_compiles_then_is_empty() -> None:
    recording = MicRecording(100)
    for direction, confidence in [(3, 10.0), (12, 50.0), (3, 20.0), (4, 30.0)]:
        assert recording.append(direction, confidence)
    summary, total = recording.compile_results()
    assert total == 4 and len(recording) == 0
    assert summary == MicSummary(3, 15.0, 3, 2)
    assert recording.compile_results() == (None, 0)


def test_bounded_buffer_drops_the_oldest_and_counts() -> None:
    recording = MicRecording(3)
    kept = [recording.append(d, float(d)) for d in (1, 1, 2, 2, 2)]
    assert kept == [True, True, True, False, False]
    assert recording.overflowed == 2 and len(recording) == 3
    directions, confidences = recording.drain()
    assert directions.tolist() == [2, 2, 2] and confidences.tolist() == [2.0, 2.0, 2.0]
    assert directions.dtype == np.int64


def test_invalid_size() -> None:
    with pytest.raises(ValueError):
        MicRecording(0)


def test_drains_concurrent_with_appends_lose_and_duplicate_nothing() -> None:
    # One thread appends (as the asyncio thread does), another drains (as service calls
    # do): every sample is drained exactly once, in order.
    recording = MicRecording(10_000_000)
    total = 200_000
    drained: list[np.ndarray] = []
    done = threading.Event()

    def append() -> None:
        for n in range(total):
            recording.append(n % 12, float(n))
        done.set()

    writer = threading.Thread(target=append)
    writer.start()
    while not done.is_set():
        drained.append(recording.drain()[1])
    writer.join()
    drained.append(recording.drain()[1])
    everything = np.concatenate(drained)
    assert np.array_equal(everything, np.arange(total, dtype=np.float64))
