"""Fan out to fs_leaf: n children, each writes a file the reducer reads.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("fs_leaf")
    for i in range(arguments["n"]):
        yield i, f"note {i}"
