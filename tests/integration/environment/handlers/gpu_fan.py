"""Fan out to gpu_leaf: n children (they need the gpu capability too).

**
handler_type: mapper
required_capability: gpu
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("gpu_leaf")
    for i in range(arguments["n"]):
        yield "value", i
