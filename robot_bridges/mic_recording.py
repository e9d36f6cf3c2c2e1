"""
The mic-direction recording: a bounded sample buffer and its compilation (pure code).

The seed client's semantics: while recording, every micdata sample is kept; "compile"
reports the most common valid direction and the mean confidence of the samples with that
direction, then empties the buffer. Directions >= 12 (unknown) are kept but never counted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from robot_bridges.protocols.webviz import DIRECTION_COUNT


@dataclass(frozen=True, slots=True)
class MicSummary:
    """What a compilation found: the winning direction, its mean confidence, the counts."""

    direction: int
    confidence: float
    samples: int
    votes: int


def compile_samples(directions: npt.ArrayLike, confidences: npt.ArrayLike) -> MicSummary | None:
    """
    Return the most common valid direction and its samples' mean confidence.

    ``directions`` and ``confidences`` are parallel, in arrival order. A tie goes to the
    direction seen first. Returns None when no sample has a valid direction (0..11).
    """
    directions = np.asarray(directions, dtype=np.int64)
    confidences = np.asarray(confidences, dtype=np.float64)
    if directions.shape != confidences.shape or directions.ndim != 1:
        raise ValueError(f'need two 1-D arrays of one length, got shapes '
                         f'{directions.shape} and {confidences.shape}')
    valid = (directions >= 0) & (directions < DIRECTION_COUNT)
    directions = directions[valid]
    if directions.size == 0:
        return None
    confidences = confidences[valid]
    votes = np.bincount(directions, minlength=DIRECTION_COUNT)
    most = votes.max()
    # np.unique's return_index gives each direction's first position: among the directions
    # with the most votes, the winner is the one whose first sample came earliest.
    present, first_seen = np.unique(directions, return_index=True)
    tied = votes[present] == most
    winner = int(present[tied][np.argmin(first_seen[tied])])
    mean = float(confidences[directions == winner].mean())
    return MicSummary(direction=winner, confidence=mean, samples=int(directions.size),
                      votes=int(most))


class MicRecording:
    """
    A bounded buffer of (direction, confidence) samples, filled from one thread only.

    Thread use, without a lock: the asyncio thread calls :meth:`append` (one
    ``deque.append``, atomic under the GIL, which also drops the oldest sample when full);
    the executor thread calls :meth:`drain`, which takes samples out with
    ``deque.popleft`` (atomic too) up to the length it saw. A sample appended while a drain
    runs is either drained now or stays for the next one, never lost or taken twice.
    Swapping in a fresh deque instead would race: an append that already fetched the old
    deque would land after the swap, in a buffer nobody reads again.
    ``recording`` is a plain flag: the asyncio thread sees a change one sample late at most.
    ``overflowed`` may count one drop too many when a drain races an append to a full buffer.
    """

    def __init__(self, max_samples: int) -> None:
        """Keep at most ``max_samples`` samples; raises ValueError if it is below 1."""
        if max_samples < 1:
            raise ValueError(f'max_samples must be at least 1, got {max_samples}')
        self.recording = False
        self.max_samples = max_samples
        # Written by the appending thread only; read anywhere.
        self.overflowed = 0
        self._samples: deque[tuple[int, float]] = deque(maxlen=max_samples)

    def __len__(self) -> int:
        """Return how many samples are buffered."""
        return len(self._samples)

    def append(self, direction: int, confidence: float) -> bool:
        """Keep one sample; return False if the oldest sample had to be dropped for it."""
        samples = self._samples
        full = len(samples) == self.max_samples
        if full:
            self.overflowed += 1
        samples.append((direction, confidence))
        return not full

    def drain(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Take every buffered sample out, in arrival order, as (directions, confidences)."""
        samples = self._samples
        popleft = samples.popleft
        taken = [popleft() for _ in range(len(samples))]
        table = np.array(taken, dtype=np.float64).reshape(-1, 2)
        return table[:, 0].astype(np.int64), table[:, 1]

    def compile_results(self) -> tuple[MicSummary | None, int]:
        """Drain and compile; returns the summary (None if no valid sample) and the count."""
        directions, confidences = self.drain()
        return compile_samples(directions, confidences), int(directions.size)
