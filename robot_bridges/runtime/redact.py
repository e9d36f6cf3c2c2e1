"""Keep secrets out of log lines and diagnostics."""

from __future__ import annotations

from typing import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """Drop user info, query and fragment from a URL (they may hold tokens or keys)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ''
        port = parts.port
    except ValueError:
        return '<invalid url>'
    netloc = f'[{host}]' if ':' in host else host
    if port is not None:
        netloc += f':{port}'
    return urlunsplit((parts.scheme, netloc, parts.path, '', ''))


def url_secrets(url: str) -> tuple[str, ...]:
    """Return the parts of a URL that may be secret: password and query values."""
    try:
        parts = urlsplit(url)
        password = parts.password or ''
    except ValueError:
        return ()
    values = [value for _, value in parse_qsl(parts.query)]
    return tuple(s for s in (password, *values) if len(s) >= 3)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, '***')
    return text


def describe_exception(exc: BaseException) -> str:
    """Describe an exception in one line: the exception type and its message."""
    message = str(exc).splitlines()[0] if str(exc) else ''
    return f'{type(exc).__name__}: {message}' if message else type(exc).__name__
