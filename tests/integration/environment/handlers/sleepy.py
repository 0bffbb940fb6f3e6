"""Sleeps `seconds`, then returns nothing: a request that outlives its deadline or is
cancelled while it runs.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
request_arguments:
  seconds: float
"""
import time

from mr.handlers.api import Return


def handle(ctx, arguments):
    until = time.monotonic() + dict(arguments)["seconds"]
    while time.monotonic() < until:
        time.sleep(0.1)
    yield Return()
