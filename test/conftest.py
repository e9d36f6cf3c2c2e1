"""Shared fixtures: a spinning test node and processes started from the install."""

from __future__ import annotations

import fcntl
import gc
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

# Under pytest-xdist each worker gets a DDS domain of its own (set before any rclpy context
# or child process exists): tests of two workers share names (/diagnostics, namespaces) and
# must not see each other's nodes. The run's domain (scripts/test.sh) is the base.
_WORKER = os.environ.get('PYTEST_XDIST_WORKER', '')
if _WORKER.startswith('gw'):
    _BASE = int(os.environ.get('ROS_DOMAIN_ID', '0'))
    os.environ['ROS_DOMAIN_ID'] = str((_BASE + int(_WORKER[2:])) % 101 + 1)


@pytest.fixture(autouse=True)
def _explain_failures() -> Iterator[None]:
    """
    Start each test with an empty registry of what a failure should describe.

    After the test, collect garbage while pytest still captures: an rclpy Future whose
    exception nobody fetched prints "never retrieved" when collected, and collected here
    that line lands in this test's report (see pytest_runtest_logreport), not at random
    later in the run's output. Only after tests of a second or more (those that spin
    nodes): a collection costs about 10 ms, too much for each of the fast unit tests.
    """
    explain.reset()
    started = time.monotonic()
    yield
    if time.monotonic() - started >= 1.0:
        gc.collect()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Name the test whose teardown printed an rclpy exception nobody retrieved."""
    if report.when == 'teardown' and NEVER_RETRIEVED in report.capstderr:
        line = next(t for t in report.capstderr.splitlines() if NEVER_RETRIEVED in t)
        report.user_properties.append(('summary_line', f'UNRETRIEVED {report.nodeid}: {line}'))


NEVER_RETRIEVED = 'exception was never retrieved'


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failure, append what the test started (processes, proxies, rigs) to its report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ('setup', 'call'):
        text = explain.explain_all()
        if text:
            report.sections.append(('what this test started', text))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the lines tests kept for the summary (the fault matrix's), sorted."""
    lines = [value for reports in terminalreporter.stats.values() for report in reports
             if getattr(report, 'when', '') in ('call', 'teardown')
             for key, value in getattr(report, 'user_properties', ()) if key == 'summary_line']
    if lines:
        terminalreporter.section('summary lines')
        for line in sorted(set(lines)):
            terminalreporter.write_line(line)


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the tests of the fixed ports on one xdist worker (``--dist loadgroup``)."""
    for item in items:
        if 'fixed_ports' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.xdist_group('fixed_ports'))


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
