"""Fan out to one mapper per number in range(n).

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
request_arguments:
  n: int
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("square")
    for i in range(arguments["n"]):
        yield i, i
