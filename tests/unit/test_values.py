"""The one rule for values that cross a boundary: JSON values msgpack can carry."""
from __future__ import annotations

import json

import pytest

from mr import values


@pytest.mark.parametrize("value", [
    None, "text", True, 1.5, -2 ** 63, 2 ** 64 - 1, [["word", 3], ("tuple", [1, 2])],
    {"a": {"b": [None, 1e300]}, "1234567890123456789012": "digits in a string are fine"},
])
def test_json_values_pass(value):
    values.check(value, "v")


@pytest.mark.parametrize("value, problem", [
    ({"n": [1, 2 ** 64]}, "v.n[1]: the integer 18446744073709551616 does not fit 64 bits"),
    ([["k", -2 ** 63 - 1]], "v[0][1]: the integer -9223372036854775809 does not fit 64 bits"),
    ({"x": b"\xff"}, "v.x: bytes are not a JSON value; decode them to str, or base64-encode"),
    ([float("inf")], "v[0]: inf is not a JSON number; use null or a string"),
    ({(1, 2): 3}, "v: the key (1, 2) is not a JSON key; use a str"),
    ({"s": {1, 2}}, "v.s: a value of type set is not a JSON value"),
])
def test_the_first_refused_part_is_named(value, problem):
    with pytest.raises(values.BadValue) as refused:
        values.check(value, "v")
    assert str(refused.value).startswith(problem)


def test_parsing_refuses_what_check_refuses():
    def parse(text):
        return json.loads(text, parse_int=values.parse_int, parse_constant=values.parse_constant)
    assert parse('{"n": 18446744073709551615}') == {"n": 2 ** 64 - 1}
    with pytest.raises(values.BadValue, match="does not fit 64 bits"):
        parse('{"n": 18446744073709551616}')
    with pytest.raises(values.BadValue, match="-Infinity is not a JSON number"):
        parse('[-Infinity]')
