"""Yields a pair every 0.1 s for 60 s: far past its time limit of 1 s.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
time_limit_s: 1
"""
import time

from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
    for _ in range(600):
        time.sleep(0.1)
        yield "tick", 1
