"""What a handler file imports: the markers a mapper yields first.

    from mr.handlers.api import MapTo, Return

    def handle(ctx, arguments):
        yield MapTo("count")     # every following (key, value) becomes a child of step "count"
        for i, chunk in enumerate(chunks):
            yield i, chunk

A mapper that yields Return() instead produces its own output pairs.

A data mapper (metadata `input: text | jsonl | raw`) gets the records of one input split and
returns or yields its pairs; the bulk path skips the cost of one yield per pair:

    def handle(ctx, records):
        return Counter(word for line in records for word in line.split())   # a mapping

    def handle(ctx, records):
        for block in records:
            yield Batch(make_pairs(block))       # a list of (key, value) pairs at once
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MapTo:
    """First yield of a mapper that fans out: following pairs become mappers of `step`."""
    step: str


@dataclass(frozen=True)
class Return:
    """First yield of a mapper that produces data: following pairs are its output."""


@dataclass(frozen=True)
class Batch:
    """Many (key, value) pairs handed over in one yield (data steps' mappers, combiners and
    reducers)."""
    pairs: list


# The names JobX handlers used.
MrConfigureToMap = MapTo
MrConfigureToReturn = Return
