"""The two jobs of the big-data benchmark, as the functions the compared systems' code calls,
and the check that an answer equals the plain process's.

wordcount  text file -> {word: count}; words are str.split() of the UTF-8 text
index      JSON-lines file of {"id", "text"} -> {word: sorted ids of the records whose text
           has the word}, each id once per word (the shuffle-heavy job: its values are lists
           that grow with the input)

Every system gets the same trick where its API allows: words are counted a block of about
1 MiB of whole lines at a time with Counter.update (C code), not one (word, 1) pair at a time,
and a split's index is built in one dict before it is shuffled or merged.
"""
from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import islice

JOBS = ("wordcount", "index")
INPUT_KIND = {"wordcount": "text", "index": "jsonl"}
LINE_BATCH = 16_384  # lines joined into one block: about 1 MiB of generated text


class WrongAnswer(AssertionError):
    """A system's answer differs from the plain process's: the run fails."""


def count_lines(lines: Iterable[str]) -> Counter:
    """Word counts of `lines`, counted a block of LINE_BATCH lines at a time."""
    counts: Counter = Counter()
    lines = iter(lines)
    while batch := list(islice(lines, LINE_BATCH)):
        counts.update(" ".join(batch).split())
    return counts


def count_blocks(blocks: Iterable[bytes]) -> Counter:
    """Word counts of blocks of whole lines (bytes, UTF-8)."""
    counts: Counter = Counter()
    for block in blocks:
        counts.update(block.decode().split())
    return counts


def merge_counts(parts: Iterable[Mapping[str, int]]) -> Counter:
    total: Counter = Counter()
    for part in parts:
        total.update(part)
    return total


def index_records(records: Iterable[dict]) -> dict[str, list[int]]:
    """{word: ids} of decoded records, ids in the order the records came."""
    index: dict[str, list[int]] = {}
    for record in records:
        rid = record["id"]
        for word in set(record["text"].split()):
            ids = index.get(word)
            if ids is None:
                index[word] = [rid]
            else:
                ids.append(rid)
    return index


def index_lines(lines: Iterable[str | bytes]) -> dict[str, list[int]]:
    """{word: ids} of JSON-lines records."""
    return index_records(map(json.loads, lines))


def extend_ids(into: list[int], more: list[int]) -> list[int]:
    """Merge two id lists in place (the shuffle's combine step); returns `into`."""
    into.extend(more)
    return into


def add_index(into: dict[str, list[int]], part: Mapping[str, list[int]]) -> None:
    """Merge one split's index into `into`, taking over (and extending) its lists."""
    for word, ids in part.items():
        have = into.get(word)
        if have is None:
            into[word] = ids
        else:
            have.extend(ids)


def merge_indexes(parts: Iterable[Mapping[str, list[int]]]) -> dict[str, list[int]]:
    """One index of several, leaving the parts untouched (a task's inputs stay as they were,
    should the task run again)."""
    merged: dict[str, list[int]] = {}
    for part in parts:
        add_index(merged, {word: list(ids) for word, ids in part.items()})
    return merged


def sort_ids(index: dict[str, list[int]]) -> dict[str, list[int]]:
    """The index with each id list sorted, in place (already sorted lists cost one pass)."""
    for ids in index.values():
        ids.sort()
    return index


def compact(answer: Mapping) -> dict:
    """The answer as it is kept to check others against: id lists as arrays of 8-byte ints
    (a 1 GB index has some 120 million ids: 1 GB so, 4 GB as lists of int objects)."""
    return {key: array("q", value) if isinstance(value, list) else value
            for key, value in answer.items()}


def _same(value, expected) -> bool:
    if isinstance(expected, array):
        return isinstance(value, list) and array("q", value) == expected
    return value == expected


def check(label: str, answer: Mapping, expected: Mapping) -> None:
    """Raise WrongAnswer naming a few differing keys unless `answer` equals `expected` (as
    compact() keeps it): the same keys, each with an equal value."""
    missing = [k for k in expected if k not in answer]
    extra = [k for k in answer if k not in expected]
    differ = [k for k in expected if k in answer and not _same(answer[k], expected[k])]
    if missing or extra or differ:
        shown = ", ".join(f"{k!r}: {_short(answer[k])} instead of {_short(expected[k])}"
                          for k in differ[:3])
        raise WrongAnswer(f"{label}: wrong answer: {len(missing)} keys missing {missing[:3]}, "
                          f"{len(extra)} extra {extra[:3]}, {len(differ)} differ {shown}")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
