"""The data plane's JSON: orjson's speed, the json module's exact results."""
from __future__ import annotations

import enum
import json
import uuid

import pytest

from mr.data import json_codec


@pytest.mark.parametrize("text", [
    b'{"a": 1, "a": 2}', b"18446744073709551617", b"-9223372036854775809", b"NaN",
    b"[1e400, -Infinity]", b'"\\ud800"', b"0.1", b"-0.0", b'["\xc3\xa9", null, true]',
    b"1234567890123456789012.25", b'"a string of 20 digits 12345678901234567890"',
])
def test_loads_reads_what_the_json_module_reads(text):
    assert repr(json_codec.loads(text)) == repr(json.loads(text.decode()))


@pytest.mark.parametrize("text", [b"", b"{", b"[1,]", b'"\xff"'])
def test_loads_refuses_what_the_json_module_refuses(text):
    with pytest.raises(ValueError):
        json_codec.loads(text)


class Colour(enum.Enum):
    RED = 1


def test_dumps_list_takes_exactly_ints_and_strs():
    values = [1, -2, "é\n\"", "", 2**63 - 1]
    assert json_codec.dumps_list(values) == json.dumps(
        values, ensure_ascii=False, separators=(",", ":")).encode()
    assert json_codec.dumps_list((1, "a")) == b'[1,"a"]'
    for other in ([1.5], [float("nan")], [True], [None], [[1]], [Colour.RED],
                  [uuid.UUID(int=1)], [2**64], ["\ud800"]):
        assert json_codec.dumps_list(other) is None, other
