"""Shared fixtures: a spinning test node and processes started from the install."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
from ros_helpers import ProbeNode, Proc, stop_all


@pytest.fixture
def ros() -> Iterator[ProbeNode]:
    """Provide a probe node spinning in the background, torn down after the test."""
    node = ProbeNode()
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
def procs() -> Iterator[Callable[..., Proc]]:
    """
    Start installed executables by name, with arguments and ROS parameters.

    Every process started this way is stopped (SIGINT, then SIGKILL) after the test.
    """
    started: list[Proc] = []

    def start(name: str, *args: str, **kwargs: Any) -> Proc:
        proc = Proc(name, *args, **kwargs)
        started.append(proc)
        return proc
    try:
        yield start
    finally:
        stop_all(started)
