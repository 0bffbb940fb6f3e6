"""JSON on the data plane: orjson wherever it gives exactly what the json module gives
(three to four times as fast), the json module wherever it would not.

orjson reads an integer past 64 bits as a float, and refuses NaN, Infinity and lone
surrogates, which the json module reads; it writes a float NaN as null, and writes enums,
UUIDs, dataclasses and datetimes, which the json module refuses. So text holding a run of
LONG_DIGITS digits, or that orjson refuses, is read by the json module, and orjson writes
only lists whose elements are exactly ints and strs.
"""
from __future__ import annotations

import json
from typing import Any

import orjson

LONG_DIGITS = 19   # every integer of fewer digits fits orjson's 64 bits
# Every digit becomes "0": then a long number is a plain substring (ten times as fast to
# find as with a regular expression).
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * LONG_DIGITS
_EXACT_TYPES = frozenset((int, str))


def orjson_reads_exactly(data: bytes) -> bool:
    """Whether orjson.loads of `data` (or of any of its lines) is the json module's."""
    return _LONG_NUMBER not in data.translate(_DIGITS_AS_ZEROS)


def loads(data: bytes) -> Any:
    """The JSON value of UTF-8 `data`, as json.loads reads it; ValueError if it is none."""
    if orjson_reads_exactly(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:   # the json module's verdict, and its message
            pass
    return json.loads(data.decode("utf-8"))


def dumps_list(values: list | tuple) -> bytes | None:
    """orjson's JSON of `values` when it is the json module's (compact, UTF-8), else None."""
    if not _EXACT_TYPES.issuperset(map(type, values)):
        return None
    try:
        return orjson.dumps(values)
    except orjson.JSONEncodeError:   # an int past 64 bits, a lone surrogate
        return None
