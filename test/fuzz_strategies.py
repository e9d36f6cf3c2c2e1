"""
Hypothesis strategies and checks shared by the property tests (``test_fuzz_*.py``).

Three kinds of input reach a decoder: arbitrary bytes or text, arbitrary JSON values, and
valid frames or payloads with a few structure-aware mutations (a slice replaced, the frame
cut short, a part repeated, a subtree swapped for a hostile value, a key dropped or
added). The hostile pieces are the ones that broke parsers before: deep nesting, integers
beyond any float or past Python's digit limit, lone surrogates, NUL, invalid UTF-8 and the
non-standard constants ``NaN`` and ``Infinity``.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from hypothesis import strategies as st
from robot_bridges.protocols.text import MAX_LINE

# Strings a ROS message cannot carry, or that are easy to get wrong.
ODD_STRINGS = ['', '\x00', 'a\x00b', '\ud800', 'x\udc00y', '\U0010ffff', '\u2028', ' ',
               ']', '[a] b', '.', '.exclusive', '"', '\\', '🤖' * 3]
# Integers past 32 and 64 bits and past any double (all writable by json.dumps).
HUGE_INTS = [2**31, 2**32, 2**63, 2**64, -2**63 - 1, 10**309, -10**400, 10**4000]
# Text with lone surrogates too: hypothesis' text() leaves them out by default.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=20) | st.sampled_from(
    ODD_STRINGS)
LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT |
          st.sampled_from(HUGE_INTS))
# Inserted into frames: each one broke some JSON or framing code somewhere.
HOSTILE_BYTES = [b'[' * 3000, b'{"a":' * 3000, b'\\ud800', b'\\udfff', b'\\u0000', b'\x00',
                 b'9' * 5000, b'1' + b'0' * 400, b'1e999', b'-1e999', b'NaN', b'Infinity',
                 b'-Infinity', b'"', b'{', b'}', b'[', b']', b',', b':', b'null', b'true',
                 b'[]', b'{}', b'""', b'\xff', b'\xed\xa0\x80', b'\xc3', b'\xf4\x90\x80\x80']


def json_values(keys: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Any]:
    """Return arbitrary decoded JSON values; ``keys`` adds likely object keys."""
    key = ANY_TEXT if keys is None else keys | ANY_TEXT
    return st.recursive(LEAVES, lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(key, children, max_size=5)),
        max_leaves=20)


JSON = json_values()


@st.composite
def mutated(draw: Any, frame: str | bytes, as_text: bool | None = None) -> str | bytes:
    """
    Return ``frame`` after one to three byte-level mutations, as bytes or text.

    A mutation replaces a slice with random or hostile bytes, cuts the frame short, or
    repeats a slice. Text is decoded with ``replace`` or ``surrogateescape`` (the latter
    leaves lone surrogates in the string); ``as_text`` forces one form.
    """
    data = frame.encode('utf-8', 'surrogatepass') if isinstance(frame, str) else frame
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, len(data)))
        kind = draw(st.sampled_from(['replace', 'truncate', 'repeat']))
        if kind == 'truncate':
            data = data[:start]
        elif kind == 'repeat':
            data = data[:end] + data[start:end] * draw(st.integers(2, 40)) + data[end:]
        else:
            insert = draw(st.binary(max_size=12) | st.sampled_from(HOSTILE_BYTES))
            data = data[:start] + insert + data[end:]
    if as_text is None:
        as_text = draw(st.booleans())
    if not as_text:
        return data
    return data.decode('utf-8', draw(st.sampled_from(['replace', 'surrogateescape'])))


@st.composite
def mutated_value(draw: Any, value: Any) -> Any:
    """
    Return a deep copy of a decoded JSON ``value`` after one to three mutations.

    A mutation swaps a subtree (the whole value included) for an arbitrary or hostile
    value (wrong types), drops an object key or adds one.
    """
    value = copy.deepcopy(value)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(value, ()))
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(['replace', 'drop', 'add']))
        parent = _at(value, path[:-1]) if path else None
        if kind == 'replace' or not path:
            new = draw(JSON)
            if not path:
                value = new
            else:
                parent[path[-1]] = new
        elif kind == 'drop' and type(parent) is dict:
            del parent[path[-1]]
        elif type(parent) is dict:
            parent[draw(ANY_TEXT)] = draw(JSON)
    return value


def _paths(value: Any, prefix: tuple[Any, ...]) -> Any:
    yield prefix
    if type(value) is dict:
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif type(value) is list:
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def decodes_or_raises(parse: Callable[..., Any], *args: Any, error: type[ValueError],
                      **kwargs: Any) -> Any:
    """
    Return ``parse(*args, **kwargs)``, or the ``error`` it raised (with a bounded message).

    Any other exception fails the test: it is the property under test.
    """
    try:
        return parse(*args, **kwargs)
    except error as exc:
        assert len(str(exc)) <= MAX_LINE, str(exc)[:MAX_LINE]
        return exc


def ros_text(value: Any) -> bool:
    """Whether ``value`` is a str that a ROS string field can carry (no NUL or surrogate)."""
    if type(value) is not str or '\x00' in value:
        return False
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


# Strings every decoder must pass on unchanged: no NUL and no lone surrogate.
ROS_TEXT = st.text(st.characters(exclude_categories=('Cs',), exclude_characters='\x00'),
                   max_size=30)
