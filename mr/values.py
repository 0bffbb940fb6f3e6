"""What may cross the engine's boundaries: JSON values that msgpack can carry.

Request arguments, handler outputs, session values and results travel as msgpack inside the
engine and as JSON outside it, so every value must be both: str, bool, None, a finite float,
an integer that fits 64 bits, and lists, tuples and dicts of those. Anything else is refused
where it enters, with where it is and what to do instead: bytes (decode them, or
base64-encode them), NaN and infinities (strict JSON parsers reject them), integers beyond 64
bits (msgpack cannot carry them: send them as strings).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

MIN_INT, MAX_INT = -2 ** 63, 2 ** 64 - 1
_LONG_NUMBER = re.compile(r"\d{19}")   # every integer outside 64 bits has 19 digits or more


class BadValue(ValueError):
    """A value that is not a JSON value msgpack can carry; the message says where and why."""


def check(value: Any, where: str) -> None:
    """Raise BadValue naming the first part of `value` (under `where`) that is refused.

    The common case costs one json.dumps and one regex search in C; the walk that finds the
    culprit runs only when something is wrong, or when a long run of digits may be an integer
    beyond 64 bits.
    """
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        pass
    else:
        if not _LONG_NUMBER.search(text):
            return
    found = problem(value, where)
    if found:
        raise BadValue(found)


def problem(value: Any, where: str) -> str | None:
    """Why `value` cannot cross a boundary, naming the path to the culprit; None if it can."""
    todo = [(value, where)]
    while todo:
        item, path = todo.pop()
        kind = type(item)
        if item is None or kind in (str, bool):
            continue
        if isinstance(item, int) and not isinstance(item, bool):
            if not MIN_INT <= item <= MAX_INT:
                return (f"{path}: the integer {_short(item)} does not fit 64 bits; send it "
                        f"as a string")
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{path}: {item} is not a JSON number; use null or a string"
        elif isinstance(item, (bytes, bytearray, memoryview)):
            return (f"{path}: bytes are not a JSON value; decode them to str, or "
                    f"base64-encode them")
        elif isinstance(item, (list, tuple)):
            todo.extend((v, f"{path}[{n}]") for n, v in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            for key, v in reversed(list(item.items())):
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    return f"{path}: the key {_short(key)} is not a JSON key; use a str"
                todo.append((v, f"{path}.{key}" if path else str(key)))
                todo.append((key, f"{path} key {_short(key)}"))
        else:
            return f"{path}: a value of type {kind.__name__} is not a JSON value"
    return None


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def parse_int(text: str) -> int:
    """json.loads's parse_int: an integer literal beyond 64 bits is refused as it is read."""
    number = int(text)
    if not MIN_INT <= number <= MAX_INT:
        raise BadValue(f"the integer {_short(number)} does not fit 64 bits; send it as a "
                       f"string")
    return number


def parse_constant(name: str) -> float:
    """json.loads's parse_constant: NaN and Infinity are not JSON."""
    raise BadValue(f"{name} is not a JSON number; use null or a string")
