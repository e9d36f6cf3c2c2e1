"""The README's main job runs every simulator and bridge and shows traffic both ways."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

DFX_TOKEN = 'main-job-dfx-token-4f3e2d1c'


@pytest.mark.usefixtures('fixed_ports')
def test_main_job_shows_traffic_in_both_directions_and_stops_cleanly() -> None:
    result = subprocess.run(
        [sys.executable, '-m', 'robot_bridges.tools.main_job', '--duration', '25'],
        cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=120,
        env={**os.environ, 'DFX_TOKEN': DFX_TOKEN})
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert 'Traceback' not in out
    assert '[/robot_chat/inbox] type=message' in out          # peer -> relay -> ROS
    assert 'sim_peer received: {"message": "hello from ROS' in out  # ROS -> relay -> peer
    assert '[/victor/mic_direction]' in out
    assert 'compile_results -> ' in out and 'success=True' in out
    assert '[/victor/webviz/observedobjects]' in out or '[/victor/webviz/intents]' in out
    assert '[/robot_chat/connected] data=True' in out and '[/victor/connected] data=True' in out
    assert '/reachy/reachy_bridge: connected' in out              # reachy_sim is syncing
    assert 'r_elbow_pitch goal' in out and 'left eye' in out and 'frames/s' in out
    assert '[/dfx/results] measurement_id=demo-measurement-1' in out    # chunks -> DFX -> ROS
    assert 'subscribe_results demo-measurement-1 -> success=True' in out
    assert DFX_TOKEN not in out
    assert '[/letsrobot/command]' in out and '[/letsrobot/chat]' in out
    assert 'letsrobot_sim: video relay: valid MPEG-1' in out
    assert 'letsrobot_sim: audio relay: valid MP2' in out


@pytest.mark.usefixtures('fixed_ports')
def test_main_job_live_view_and_ctrl_c_within_2_s_with_nothing_left() -> None:
    job, lines, reader = start_live_job()
    try:
        out = wait_every_bridge_ok(job, lines)
        for bridge in BRIDGES:  # a panel per bridge, OK once connected
            assert f'OK {bridge}' in out, out[-3000:]
        assert 'connected  in ' in out and 'decode_errors 0' in out
        pids = [int(pid) for pid in re.findall(r'started \S+ \(pid (\d+)\)', out)]
        assert len(pids) == 8, out[:2000]  # 7 simulators and peers, the bridges' container
        job.send_signal(signal.SIGINT)
        start = time.monotonic()
        job.wait(10)
        assert time.monotonic() - start <= 2.0
    finally:
        if job.poll() is None:
            job.kill()
    reader.join(5)
    left = [pid for pid in _all_pids() if _pgid(pid) in pids]  # ffmpeg included
    assert not left, left


@pytest.mark.usefixtures('fixed_ports')
def test_main_job_with_a_fixed_port_taken_names_it_and_its_holder_and_starts_nothing() -> None:
    holder = subprocess.Popen([sys.executable, '-c', HOLD_9080, 'port-holder'],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == 'held'
        result = subprocess.run(
            [sys.executable, '-m', 'robot_bridges.tools.main_job', '--duration', '20'],
            cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2, result.stdout + result.stderr
    assert 'started' not in result.stdout
    assert ('main_job: port 9080 is taken (dfx-sim, the DFX API simulator, listens on it): '
            'held by python') in result.stderr, result.stderr
    assert f'(pid {holder.pid}: ' in result.stderr and '--ports auto' in result.stderr


HOLD_9080 = ('import socket, time\n'
             "server = socket.create_server(('127.0.0.1', 9080))\n"
             "print('held', flush=True)\n"
             'time.sleep(60)\n')


def test_main_job_with_auto_ports_connects_every_bridge_on_ports_of_its_own() -> None:
    """No fixed port is used, so this needs no turn at them (no fixed_ports fixture)."""
    job, lines, reader = start_live_job('--ports', 'auto')
    try:
        out = wait_every_bridge_ok(job, lines)
        for bridge in BRIDGES:
            assert f'OK {bridge}' in out, out[-3000:]
        ports = {int(port) for port in re.findall(r'listening on \w+://127.0.0.1:(\d+)', out)}
        assert len(ports) == 6 and not ports & FIXED_PORTS, out[:3000]
        job.send_signal(signal.SIGINT)
        job.wait(10)
    finally:
        if job.poll() is None:
            job.kill()
    reader.join(5)


FIXED_PORTS = {5001, 8888, 8889, 6171, 9080, *range(8100, 8107)}
ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')
BRIDGES = ('/robot_chat/robot_chat_bridge', '/victor/victor_mic_bridge',
           '/victor/webviz_bridge', '/letsrobot/letsrobot_bridge', '/dfx/dfx_bridge',
           '/reachy/reachy_bridge')


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir('/proc') if name.isdigit()]


def _pgid(pid: int) -> int:
    try:
        with open(f'/proc/{pid}/stat') as stat:
            return int(stat.read().rsplit(')', 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return -1


def start_live_job(*args: str) -> tuple[subprocess.Popen[str], list[str], threading.Thread]:
    """Start the main job's live view; return it, its output lines so far, their reader."""
    job = subprocess.Popen(
        [sys.executable, '-m', 'robot_bridges.tools.main_job', '--live', *args],
        cwd=tempfile.gettempdir(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, 'DFX_TOKEN': DFX_TOKEN, 'COLUMNS': '150'})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(job.stdout or ()), daemon=True)
    reader.start()
    return job, lines, reader


def wait_every_bridge_ok(job: subprocess.Popen[str], lines: list[str]) -> str:
    """Wait (at most 60 s, or until the job ends) for every panel's OK; return the output."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and job.poll() is None and not all(
            f'OK {bridge}' in ANSI.sub('', ''.join(lines)) for bridge in BRIDGES):
        time.sleep(0.5)
    return ANSI.sub('', ''.join(lines))
