"""Yield a value that cannot cross the engine's boundaries: arguments {"kind": "object" (the
default), "bigint", "bytes" or "nan"}.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import Return

VALUES = {"object": object(), "bigint": 2 ** 100, "bytes": b"\xff\x00", "nan": float("nan")}


def handle(ctx, arguments):
    yield Return()
    yield "key", VALUES[arguments.get("kind", "object")]
