"""Shared fixtures: a spinning test node and processes started from the install."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
import tempfile
import time
from typing import Any, Callable, Iterator

import explain
from hypothesis import HealthCheck, settings
import pytest
from ros_helpers import ProbeNode, Proc, stop_all

# Property tests: a few hundred examples per target in the suite (CI); scripts/fuzz.sh
# selects the 'fuzz' profile (at least 10,000 per target).
settings.register_profile('ci', max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile('fuzz', max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get('ROBOT_BRIDGES_FUZZ_PROFILE', 'ci'))


@pytest.fixture(autouse=True)
def _explain_failures() -> Iterator[None]:
    """Start each test with an empty registry of what a failure should describe."""
    explain.reset()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failure, append what the test started (processes, proxies, rigs) to its report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ('setup', 'call'):
        text = explain.explain_all()
        if text:
            report.sections.append(('what this test started', text))


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


@pytest.fixture
def fixed_ports() -> Iterator[None]:
    """
    Take turns for the simulators' fixed ports (5001, 8888, ...) with other test runs.

    The main job and the launch files use the ports the README documents; test runs of
    other checkouts on the same machine wait for this machine-wide lock instead of colliding.
    """
    with open(Path(tempfile.gettempdir()) / 'robot_bridges_fixed_ports.lock', 'w') as lock:
        deadline = time.monotonic() + 100
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail('another test run held the fixed ports for 100 s', pytrace=False)
                time.sleep(0.5)
        yield
