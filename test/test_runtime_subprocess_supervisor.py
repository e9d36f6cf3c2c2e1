"""SubprocessSupervisor with real children: small Python scripts run by sys.executable."""

from __future__ import annotations

import asyncio
from functools import partial
import os
import sys

import async_helpers
from async_helpers import Recorder, WAIT_S
import pytest
from robot_bridges.runtime.backoff import Backoff
from robot_bridges.runtime.subprocess_supervisor import SubprocessSupervisor

FAST = Backoff(min_s=0.02, max_s=0.05)
KEY = 'sk-0123456789'
run = partial(async_helpers.run, timeout=20.0)


def python(script: str, *args: str) -> list[str]:
    """Argv running ``script`` in a fresh interpreter (unbuffered, so lines come at once)."""
    return [sys.executable, '-u', '-c', script, *args]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` exists at all (a zombie counts: it still has a process entry)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_output_lines_are_reported_and_a_clean_exit_is_restarted() -> None:
    async def test() -> Recorder:
        recorder = Recorder()
        supervisor = SubprocessSupervisor(python('print("one"); print("two")'), recorder, FAST)
        task = asyncio.create_task(supervisor.run())
        await recorder.until(lambda: len(recorder.of('exited')) >= 2)
        await supervisor.close()
        await asyncio.wait_for(task, WAIT_S)
        return recorder

    recorder = run(test())
    assert recorder.of('output')[:4] == ['one', 'two', 'one', 'two']
    assert recorder.of('exited')[0] == (0, 'exited with code 0')
    assert len(set(recorder.of('started'))) >= 2
    assert not recorder.of('error')


def test_exit_code_and_last_stderr_lines_are_kept() -> None:
    script = ('import sys\n'
              'for i in range(30): print(f"warning {i}", file=sys.stderr)\n'
              'print("fatal: cannot open /dev/video0", file=sys.stderr)\n'
              'sys.exit(3)\n')

    async def test() -> tuple[Recorder, str]:
        recorder = Recorder()
        supervisor = SubprocessSupervisor(python(script), recorder, FAST, stderr_lines=5)
        task = asyncio.create_task(supervisor.run())
        await recorder.until(lambda: bool(recorder.of('exited')))
        last_error = supervisor.last_error
        await supervisor.close()
        await asyncio.wait_for(task, WAIT_S)
        return recorder, last_error

    recorder, last_error = run(test())
    assert recorder.of('exited')[0] == (3, 'exited with code 3: fatal: cannot open /dev/video0')
    assert last_error.splitlines() == ['warning 26', 'warning 27', 'warning 28', 'warning 29',
                                       'fatal: cannot open /dev/video0']
    assert recorder.of('output') == []


def test_secrets_are_redacted_everywhere() -> None:
    url = f'http://127.0.0.1:9/{KEY}/640/480/'
    script = ('import sys\n'
              'print("posting to", sys.argv[1])\n'
              'print(f"{sys.argv[1]}: Connection refused", file=sys.stderr)\n'
              'sys.exit(1)\n')

    async def test() -> tuple[Recorder, str, str]:
        recorder = Recorder()
        supervisor = SubprocessSupervisor(python(script, url), recorder, FAST, secrets=[KEY, ''])
        task = asyncio.create_task(supervisor.run())
        await recorder.until(lambda: bool(recorder.of('exited')))
        await supervisor.close()
        await asyncio.wait_for(task, WAIT_S)
        return recorder, supervisor.last_error, supervisor.display_command

    recorder, last_error, command = run(test())
    everything = repr(recorder.events) + last_error + command
    assert KEY not in everything
    assert recorder.of('output')[0] == 'posting to http://127.0.0.1:9/***/640/480/'
    assert 'http://127.0.0.1:9/***/640/480/' in command
    assert recorder.of('exited')[0][1].endswith('/***/640/480/: Connection refused')


def test_carriage_returns_split_progress_lines_and_long_lines_are_cut() -> None:
    script = ('import sys\n'
              'sys.stdout.write("frame=1\\rframe=2\\rframe=3\\r\\n")\n'
              'sys.stdout.write("x" * 100000 + "\\n")\n'
              'sys.stdout.write("\\u00e9t\\u00e9 no newline")\n')

    async def test() -> list[str]:
        recorder = Recorder()
        supervisor = SubprocessSupervisor(python(script), recorder, FAST)
        task = asyncio.create_task(supervisor.run())
        await recorder.until(lambda: bool(recorder.of('exited')))
        await supervisor.close()
        await asyncio.wait_for(task, WAIT_S)
        return recorder.of('output')

    lines = run(test())
    end = lines.index('\u00e9t\u00e9 no newline')
    assert lines[:3] == ['frame=1', 'frame=2', 'frame=3']
    long_parts = lines[3:end]
    assert all(len(part) <= 2000 for part in long_parts)
    assert set(''.join(long_parts)) == {'x'}


def test_restarts_are_spaced_by_the_backoff() -> None:
    async def test() -> float:
        recorder = Recorder()
        backoff = Backoff(min_s=0.3, max_s=0.3)
        supervisor = SubprocessSupervisor(python('raise SystemExit(1)'), recorder, backoff)
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(supervisor.run())
        await recorder.until(lambda: bool(recorder.of('exited')))
        first_exit = loop.time()
        await recorder.until(lambda: len(recorder.of('started')) == 2)
        gap = loop.time() - first_exit
        await supervisor.close()
        await asyncio.wait_for(task, WAIT_S)
        return gap

    assert 0.25 <= run(test()) < 3.0


def test_close_terminates_a_running_child() -> None:
    script = 'import time\nprint("ready")\ntime.sleep(60)\n'

    async def test() -> tuple[Recorder, int, float]:
        recorder = Recorder()
        supervisor = SubprocessSupervisor(python(script), recorder, FAST)
        task = asyncio.create_task(supervisor.run())
        await recorder.until(lambda: recorder.of('output') == ['ready'])
        pid = supervisor.pid
        assert pid is not None and supervisor.running
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(supervisor.close(), WAIT_S)
        elapsed = loop.time() - started
        await asyncio.wait_for(task, WAIT_S)
        assert not supervisor.running and supervisor.pid is None
        return recorder, pid, elapsed

    recorder, pid, elapsed = run(test())
    assert elapsed < 1.5
    assert recorder.of('exited') == [(-15, 'killed by SIGTERM')]
    assert len(recorder.of('started')) == 1
    assert not pid_alive(pid)


def test_a_child_ignoring_sigterm_is_killed_after_the_timeout() -> None:
    script = ('import signal, time\n'
              'signal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
              'print("ignoring")\n'
              'time.sleep(60)\n')

    async def test() -> tuple[Recorder, int, float]:
        recorder = Recorder()
        supervisor = SubprocessSupervisor(python(script), recorder, FAST, stop_timeout_s=0.3)
        task = asyncio.create_task(supervisor.run())
        await recorder.until(lambda: recorder.of('output') == ['ignoring'])
        pid = supervisor.pid
        assert pid is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(supervisor.close(), WAIT_S)
        elapsed = loop.time() - started
        await asyncio.wait_for(task, WAIT_S)
        return recorder, pid, elapsed

    recorder, pid, elapsed = run(test())
    assert 0.25 <= elapsed < 2.0
    assert recorder.of('exited') == [(-9, 'killed by SIGKILL')]
    assert not pid_alive(pid)


def test_cancelling_run_stops_the_child() -> None:
    script = ('import signal, time\n'
              'signal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
              'print("ready")\n'
              'time.sleep(60)\n')

    async def test() -> int:
        recorder = Recorder()
        supervisor = SubprocessSupervisor(python(script), recorder, FAST, stop_timeout_s=0.2)
        task = asyncio.create_task(supervisor.run())
        await recorder.until(lambda: recorder.of('output') == ['ready'])
        pid = supervisor.pid
        assert pid is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, WAIT_S)
        return pid

    pid = run(test())
    assert not pid_alive(pid)


def test_a_missing_program_is_reported_and_retried() -> None:
    async def test() -> list[str]:
        recorder = Recorder()
        argv = ['/nonexistent/ffmpeg', '-i', f'http://127.0.0.1:9/{KEY}/']
        supervisor = SubprocessSupervisor(argv, recorder, FAST, secrets=[KEY])
        task = asyncio.create_task(supervisor.run())
        await recorder.until(lambda: len(recorder.of('error')) >= 3)
        await supervisor.close()
        await asyncio.wait_for(task, WAIT_S)
        assert not recorder.of('started')
        return recorder.of('error')

    errors = run(test())
    assert errors[0].startswith('cannot start /nonexistent/ffmpeg: FileNotFoundError')
    assert all(KEY not in e for e in errors)


def test_close_before_run_starts_nothing_and_run_again_works() -> None:
    async def test() -> list[str]:
        recorder = Recorder()
        supervisor = SubprocessSupervisor(python('print("hi")'), recorder, FAST)
        await supervisor.close()  # nothing running: returns at once
        task = asyncio.create_task(supervisor.run())
        await recorder.until(lambda: bool(recorder.of('exited')))
        await supervisor.close()
        await asyncio.wait_for(task, WAIT_S)
        return recorder.of('output')

    assert run(test())[0] == 'hi'


def test_stdin_is_devnull_unless_piped() -> None:
    script = 'import sys\nprint(repr(sys.stdin.read()))\n'

    async def test(pipe: bool) -> list[str]:
        recorder = Recorder()
        supervisor = SubprocessSupervisor(python(script), recorder, FAST, pipe_stdin=pipe)
        task = asyncio.create_task(supervisor.run())
        if pipe:
            await recorder.until(lambda: supervisor.stdin is not None)
            stdin = supervisor.stdin
            assert stdin is not None
            stdin.write(b'pcm bytes')
            await stdin.drain()
            stdin.close()
        await recorder.until(lambda: bool(recorder.of('exited')))
        await supervisor.close()
        await asyncio.wait_for(task, WAIT_S)
        return recorder.of('output')

    assert run(test(False))[0] == "''"
    assert run(test(True))[0] == "'pcm bytes'"


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        SubprocessSupervisor([], Recorder(), FAST)
    with pytest.raises(ValueError):
        SubprocessSupervisor(['true'], Recorder(), FAST, stderr_lines=0)
    with pytest.raises(ValueError):
        SubprocessSupervisor(['true'], Recorder(), FAST, stop_timeout_s=0.0)
