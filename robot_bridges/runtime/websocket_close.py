"""How a websocket connection ended, in words for logs and diagnostics (client and server)."""

from __future__ import annotations

from robot_bridges.runtime.link import LinkListener
from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, CloseCode

_REJECTED_FRAME = {
    CloseCode.MESSAGE_TOO_BIG: 'received a frame over max_message_bytes',
    CloseCode.INVALID_DATA: 'received a text frame that is not UTF-8',
}


def describe_close(close: Close | None) -> str:
    """Say how the connection closed: its close code and reason, or that it was lost."""
    if close is None:
        return 'connection lost without a close frame'
    return f'closed with code {int(close.code)}' + (f' ({close.reason})' if close.reason else '')


def close_of(exc: ConnectionClosed) -> Close | None:
    """Return the close frame that ended the connection (received first, else sent)."""
    return exc.rcvd or exc.sent


def rejected_frame(exc: ConnectionClosed) -> str | None:
    """Return why our side closed over a received frame (oversize, not UTF-8), else None."""
    return rejection(exc.sent)


def rejection(sent: Close | None) -> str | None:
    """Return why the close frame we sent rejected a received frame, else None."""
    return _REJECTED_FRAME.get(sent.code) if sent is not None else None


def report_end(listener: LinkListener, connection: Connection, aborted: str | None,
               rejected_then: str) -> None:
    """
    Tell ``listener`` that ``connection``'s link is down, and why.

    ``aborted`` is the guard's reason when it aborted the link (``link_aborted`` first);
    otherwise a frame our close rejected is reported (``link_bad_frame``, the rejection
    followed by ``rejected_then``) before ``link_down``.
    """
    protocol = connection.protocol
    if aborted is not None:
        listener.link_aborted(aborted)
        reason = f'aborted: {aborted}'
    else:
        rejected = rejection(protocol.close_sent)
        if rejected:
            listener.link_bad_frame(f'{rejected}: {rejected_then}')
        reason = describe_close(protocol.close_rcvd or protocol.close_sent)
    listener.link_down(reason)
