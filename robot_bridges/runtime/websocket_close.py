"""How a websocket connection ended, in words for logs and diagnostics (client and server)."""

from __future__ import annotations

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
    return _REJECTED_FRAME.get(exc.sent.code) if exc.sent is not None else None
