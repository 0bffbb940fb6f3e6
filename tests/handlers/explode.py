"""Raise on purpose, after printing something.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    print("about to fail")
    ctx.log.info("arguments were %s", arguments)
    yield Return()
    raise ValueError("boom")
