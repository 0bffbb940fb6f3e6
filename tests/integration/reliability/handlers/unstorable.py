"""Yield a value that cannot be stored (not msgpack-serializable).

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
    yield "key", object()
