"""Nested benchmark, level 1: fan out `mids` mid-level mappers, each owning a range of numbers.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
request_arguments:
  n: int
  mids: int
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    n, mids = arguments["n"], max(arguments["mids"], 1)
    yield MapTo("mid")
    for m in range(mids):
        yield m, [m * n // mids, (m + 1) * n // mids]
