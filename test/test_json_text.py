"""The shared JSON codec and excerpts: only the caller's error type, strict output, bounds."""

from __future__ import annotations

import json
import math

import pytest
from robot_bridges.protocols import json_text
from robot_bridges.protocols.errors import LocalProtocolError, RemoteProtocolError
from robot_bridges.protocols.text import cut, excerpt

HOSTILE = [
    '[' * 5000 + ']' * 5000,                        # deeper than the recursion limit
    '{"a":' * 3000 + '1' + '}' * 3000,
    '1' * 5000,                                     # more digits than int() takes
    '{"n": ' + '9' * 4301 + '}',
    '{"type": "\\ud800"}',                          # lone surrogate
    '{"\\udfff": 1}',
    '{"text": "a\\u0000b"}',                        # NUL
    b'\xff\xfe{}',                                  # not UTF-8
    b'{"a": "\xed\xa0\x80"}',                       # UTF-8-encoded surrogate
    '', '{', 'nul', '{"a": 1} x',
]


@pytest.mark.parametrize('frame', HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_raises_only_the_callers_error(frame: str | bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        json_text.loads(frame, RemoteProtocolError)
    assert len(str(info.value)) <= 200


def test_strings_that_ros_cannot_carry_pass_when_the_text_is_republished() -> None:
    assert json_text.loads('{"t": "a\\u0000b"}', RemoteProtocolError,
                           ros_strings=False) == {'t': 'a\x00b'}
    assert not json_text.ros_string('a\x00b') and not json_text.ros_string('\ud800')
    assert json_text.ros_string('é ✓ \U0001f600') and not json_text.ros_string(5)
    # A surrogate pair is one character, not an error.
    assert json_text.loads('"\\ud83d\\ude00"', RemoteProtocolError) == '\U0001f600'


def test_loads_object_names_the_type() -> None:
    with pytest.raises(LocalProtocolError, match='JSON array, not an object'):
        json_text.loads_object('[1]', LocalProtocolError)
    assert json_text.loads_object(b'{"a": [1, 2.5]}', LocalProtocolError) == {'a': [1, 2.5]}


def test_dumps_is_strict_json_and_counts_what_it_nulled() -> None:
    assert json_text.dumps({'a': [1, 'x']}, LocalProtocolError) == ('{"a":[1,"x"]}', 0)
    text, count = json_text.dumps({'a': math.nan, 'b': [math.inf, -math.inf, 1.5]},
                                  LocalProtocolError)
    assert (text, count) == ('{"a":null,"b":[null,null,1.5]}', 3)
    json.loads(text, parse_constant=pytest.fail)  # no NaN/Infinity constants left
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(LocalProtocolError, match='too deeply'):
        json_text.dumps(deep, LocalProtocolError)
    with pytest.raises(LocalProtocolError, match='not JSON data'):
        json_text.dumps({'a': object()}, LocalProtocolError)


def test_strict_text_keeps_strict_frames_verbatim() -> None:
    frame = '{"type": "m",\n "x": 1e10, "NaNa": "Infinity"}'
    assert json_text.strict_text(frame, json.loads(frame), RemoteProtocolError) == (frame, 0)
    frame = '{"x": NaN, "y": 1e400, "z": [-Infinity]}'
    assert json_text.strict_text(frame, json.loads(frame), RemoteProtocolError) == (
        '{"x":null,"y":null,"z":[null]}', 3)


def test_excerpts_are_bounded_and_marked() -> None:
    assert excerpt('short') == "'short'"
    long = excerpt('x' * 1_000_000)
    assert len(long) <= 64 and '...' in long
    nested: list[object] = []
    for _ in range(10_000):
        nested = [nested]
    assert len(excerpt(nested)) <= 64
    assert excerpt('\ud800') == "'\\ud800'"  # escaped: printable in any log
    assert '...' in excerpt(10 ** 1000) and len(excerpt(10 ** 1000)) <= 64
    assert cut('y' * 1000, 50).endswith('...[+950 chars]') and len(cut('y' * 1000, 50)) == 50


def test_integers_python_cannot_write_raise_the_callers_error() -> None:
    # Found by test_fuzz_letsrobot.py: json.dumps raised a bare ValueError for these.
    for value in (10**5000, [math.nan, -10**5000], {'x': [10**5000]}):
        with pytest.raises(LocalProtocolError, match='not JSON data'):
            json_text.dumps(value, LocalProtocolError)


def test_excerpts_of_huge_integers_name_their_size() -> None:
    # Found by test_fuzz_letsrobot.py: reprlib wrote ints of any size, and raised past
    # Python's 4300-digit limit.
    assert excerpt(10**5000) == '<16610-bit integer...>'
    assert excerpt({'port': -10**400}) == "{'port': -<1329-bit integer...>}"
    assert excerpt(2**40) == repr(2**40)


def test_numbers_convert_to_floats_or_none() -> None:
    assert json_text.number(3) == 3.0 and type(json_text.number(3)) is float
    assert json_text.number(-1.5) == -1.5 and math.isnan(json_text.number(math.nan))
    for value in (10**309, -10**400, True, '1', None, [1]):
        assert json_text.number(value) is None
