"""Return a fixed version marker (rewritten by the update test).

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import Return

VERSION = "v1"


def handle(ctx, arguments):
    yield Return()
    yield "version", VERSION
