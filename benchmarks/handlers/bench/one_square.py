"""Latency benchmark: a request of one invocation that squares n and returns it.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
request_arguments:
  n: int
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
    yield "sum", arguments["n"] * arguments["n"]
