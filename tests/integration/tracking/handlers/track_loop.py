"""Map to its own step again and again: a step graph that loops.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("track_loop")
    yield "again", 1
