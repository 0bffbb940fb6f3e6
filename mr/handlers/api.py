"""What a handler file imports: the markers a mapper yields first.

    from mr.handlers.api import MapTo, Return

    def handle(ctx, arguments):
        yield MapTo("count")          # every following (key, value) becomes a child of step "count"
        for i, chunk in enumerate(chunks):
            yield i, chunk

A mapper that yields Return() instead produces its own output pairs.
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


# The names JobX handlers used.
MrConfigureToMap = MapTo
MrConfigureToReturn = Return
