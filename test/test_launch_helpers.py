"""What the launch tests take as a clean end, from launch's own lines (no processes here)."""

from __future__ import annotations

from launch_helpers import ended

CMD = "cmd '/x/robot_chat_server --port 5001']."


def test_a_clean_finish_and_a_child_launch_reaped_itself() -> None:
    lines = [
        '[INFO] [victor_sim-3]: process has finished cleanly [pid 28575]',
        "[INFO] [robot_chat_server-1]: sending signal 'SIGINT' to process[robot_chat_server-1]",
        'Unknown child process pid 28571, will report returncode 255',
        f'[ERROR] [robot_chat_server-1]: process has died [pid 28571, exit code 255, {CMD}',
    ]
    finished, reaped = ended(lines)
    assert finished == {'victor_sim-3'}
    assert reaped == {'robot_chat_server-1': lines[3]}


def test_a_death_is_a_death_without_asyncio_saying_it_lost_the_child() -> None:
    died = [
        'Unknown child process pid 999, will report returncode 255',  # another pid
        f'[ERROR] [robot_chat_server-1]: process has died [pid 28571, exit code 255, {CMD}',
        f'[ERROR] [dfx_sim-9]: process has died [pid 28587, exit code 1, {CMD}',
    ]
    assert ended(died) == (set(), {})
