"""
Bounded, marked excerpts of peer-controlled values, for errors, log lines and diagnostics.

A value a peer sent (a module name, a count, a whole frame) may be megabytes long or nested
a thousand deep; whatever quotes it goes through :func:`excerpt`, which bounds both the work
and the length and says that it cut.
"""

from __future__ import annotations

import reprlib
from typing import Any

# The longest text any quoted value or error line may take.
MAX_EXCERPT = 64
MAX_LINE = 300

# Integers wider than this are named by size: Python refuses to write more than 4300
# digits, and writing thousands costs quadratic time.
_MAX_INT_BITS = 256


class _Repr(reprlib.Repr):
    """A reprlib.Repr that names huge integers by size instead of writing them."""

    def repr_int(self, x: int, level: int) -> str:
        """Return the integer's repr (cut by maxlong), or its size when it is huge."""
        if x.bit_length() > _MAX_INT_BITS:
            return f'{"-" if x < 0 else ""}<{x.bit_length()}-bit integer...>'
        return super().repr_int(x, level)


_REPR = _Repr()
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = _REPR.maxset = 4
_REPR.maxstring = _REPR.maxother = 40
_REPR.maxlong = 24


def excerpt(value: Any, limit: int = MAX_EXCERPT) -> str:
    """
    Return a short repr of ``value``: at most ``limit`` characters, marked when cut.

    Strings are quoted like ``repr`` (so control characters and lone surrogates are
    escaped); nesting and lengths are bounded before any text is built.
    """
    text = _REPR.repr(value)
    return cut(text, limit)


def cut(text: str, limit: int = MAX_LINE) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending in a marker that says how much."""
    if len(text) <= limit:
        return text
    marker = f'...[+{len(text) - limit} chars]'
    return text[:max(limit - len(marker), 0)] + marker
