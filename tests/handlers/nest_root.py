"""Fan out n middle mappers.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("middle")
    for i in range(arguments["n"]):
        yield i, i
