"""
The simulators' shared way to stop: SIGINT or SIGTERM ends the wait, no traceback.

Only the first signal counts. A stop is often signalled twice (a non-interactive
``ros2 launch`` forwards its SIGINT and a supervisor signals the process group): later ones
are ignored for the rest of the process (SIG_IGN, which Python's finalization leaves alone,
unlike a handler, which it resets to the default action), so that neither a
KeyboardInterrupt nor a default action cuts the clean close and exit short. SIGKILL still
ends a close that hangs.
"""

from __future__ import annotations

import asyncio
import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_event() -> asyncio.Event:
    """Return an event that the first SIGINT or SIGTERM sets (call from the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping() -> None:
        stop.set()
        # Removed from the loop now, so that closing it does not put Python's defaults back.
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)
    for sig in SIGNALS:
        loop.add_signal_handler(sig, stopping)
    return stop
