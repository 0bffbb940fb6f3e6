"""Map to a step that does not exist.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("no_such_step")
    yield "k", 1
