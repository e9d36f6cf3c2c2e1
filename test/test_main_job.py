"""The README's main job runs every simulator and bridge and shows traffic both ways."""

import os
import subprocess
import sys
import tempfile

DFX_TOKEN = 'main-job-dfx-token-4f3e2d1c'


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
