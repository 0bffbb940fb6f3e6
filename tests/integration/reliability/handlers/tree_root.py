"""Fan out one `group` mapper per group of leaves: the nested job of the failure tests and of
the chaos soak (benchmarks.chaos).

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
request_arguments:
  groups: int
  leaves: int
  sleep: {type: float, required: false}
  fail: {type: list, required: false}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("group")
    for g in range(arguments["groups"]):
        yield g, {"group": g, "leaves": arguments["leaves"],
                  "sleep": arguments.get("sleep", 0), "fail": arguments.get("fail")}
