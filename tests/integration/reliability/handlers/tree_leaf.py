"""Take a little time (so a crash can land mid-run), then return the leaf's value, or fail
on purpose when the request named this leaf.

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
        if spec.get("fail"):
            raise RuntimeError(f"leaf {spec['value']} fails on purpose")
        yield "total", spec["value"]
