"""Fan out the leaves of one group; leaf j of group g carries the value 100 * g + j.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("leaf")
    for _key, spec in arguments:
        for j in range(spec["leaves"]):
            yield j, {"value": 100 * spec["group"] + j, "sleep": spec["sleep"],
                      "fail": spec["fail"] == [spec["group"], j]}
