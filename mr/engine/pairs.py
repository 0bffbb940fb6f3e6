"""Shapes of data between handlers: (key, value) pairs, grouped as (key, [values])."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class BadPair(TypeError):
    pass


def as_pair(item: Any) -> list:
    """A yielded item as [key, value], or BadPair naming what was yielded instead."""
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return [item[0], item[1]]
    shown = repr(item)
    raise BadPair(f"yielded {shown[:80]}; expected a (key, value) pair")


def _hashable(key: Any) -> Any:
    """Keys come back from msgpack as lists; group them as tuples."""
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    if isinstance(key, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in key.items()))
    return key


def group(pairs: Iterable[list]) -> list[tuple[Any, list]]:
    """(key, [values]) per distinct key, sorted by key when keys are comparable."""
    groups: dict[Any, tuple[Any, list]] = {}
    for key, value in pairs:
        slot = groups.get(_hashable(key))
        if slot is None:
            groups[_hashable(key)] = (key, [value])
        else:
            slot[1].append(value)
    items = list(groups.values())
    try:
        items.sort(key=lambda item: item[0])
    except TypeError:
        pass  # mixed key types: keep first-seen order
    return items


def cast_argument(value: list, type_name: str | None) -> Any:
    """The mapper's `arguments` (stored as a list of pairs) in the type its spec asks for."""
    if type_name == "dict":
        return {_hashable(k): v for k, v in value}
    return [tuple(pair) for pair in value]


def reducer_output(result: Any) -> Iterable:
    """A reducer may yield pairs, return an iterable of pairs, return a dict, or return None."""
    if result is None:
        return ()
    if isinstance(result, dict):
        return result.items()
    return result
