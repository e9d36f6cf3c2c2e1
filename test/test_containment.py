"""One node's failure stays its own: the executor and the loop go on, the line names it."""

from __future__ import annotations

import asyncio
import time
from typing import Iterator

import pytest
import rclpy
from rclpy.node import Node
from robot_bridges.node.containment import ContainingExecutor, report_loop_errors
from robot_bridges.runtime.loop_thread import LoopThread


class Faulty(Node):
    """A node with a timer that always raises and one that counts."""

    def __init__(self, name: str, context: rclpy.Context) -> None:
        super().__init__(name, context=context, enable_rosout=False)
        self.ticks = 0
        self.create_timer(0.01, self.fail)
        self.create_timer(0.01, self.tick)

    def fail(self) -> None:
        raise ZeroDivisionError('x' * 5000)

    def tick(self) -> None:
        self.ticks += 1


@pytest.fixture
def context() -> Iterator[rclpy.Context]:
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)


def test_an_exception_out_of_a_callback_is_logged_with_its_node_and_spinning_goes_on(
        context: rclpy.Context, capfd: pytest.CaptureFixture[str]) -> None:
    faulty, healthy = Faulty('faulty_node', context), Node('healthy', context=context)
    ticks = []
    healthy.create_timer(0.01, lambda: ticks.append(1))
    executor = ContainingExecutor(context=context)
    executor.add_node(faulty)
    executor.add_node(healthy)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    executor.shutdown()
    assert faulty.ticks > 10 and len(ticks) > 10  # the faulty node's other timer too
    lines = [line for line in capfd.readouterr().err.splitlines() if 'ZeroDivision' in line]
    assert lines and all('[faulty_node]' in line for line in lines), lines[:3]
    assert 'a callback raised ZeroDivisionError: xxx' in lines[0]
    assert 'in fail); spinning goes on' in lines[0] or '...[+' in lines[0]
    assert max(len(line) for line in lines) < 600, 'cut to length'
    faulty.destroy_node()
    healthy.destroy_node()


def test_a_failure_on_the_loop_is_logged_with_its_node_and_the_loop_goes_on(
        context: rclpy.Context, capfd: pytest.CaptureFixture[str]) -> None:
    node = Faulty('loop_faulty', context)
    loop = LoopThread()
    try:
        report_loop_errors(loop, [node])
        loop.call_soon(node.fail)

        async def fails() -> None:
            node.fail()
        failed = loop.submit(fails())  # a task of the loop failing: its future says so

        async def alive() -> int:
            await asyncio.sleep(0.05)
            return 7
        assert loop.submit(alive()).result(5) == 7
        assert isinstance(failed.exception(5), ZeroDivisionError)
        err = capfd.readouterr().err
        lines = [line for line in err.splitlines() if 'ZeroDivision' in line]
        assert len(lines) == 1 and '[loop_faulty]' in lines[0], err[-2000:]
        assert 'a loop callback raised ZeroDivisionError' in lines[0] and len(lines[0]) < 600
    finally:
        loop.stop()
        node.destroy_node()
