"""Take a little time (so a crash can land mid-run), then return the leaf's value.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
import time

from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
    for _key, spec in arguments:
        time.sleep(spec["sleep"])
        yield "total", spec["value"]
