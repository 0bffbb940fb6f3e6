"""Nested benchmark, level 2: fan out one squaring leaf per number of this mapper's range.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("square")
    for _key, (low, high) in arguments:
        for i in range(low, high):
            yield i, i
