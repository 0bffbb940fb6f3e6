"""Map to a step but yield no children.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("leaf")
