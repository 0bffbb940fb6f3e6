"""Yield something that is not a (key, value) pair.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
    yield "key", 1
    yield ("a", "b", "c")
