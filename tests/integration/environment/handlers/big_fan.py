"""Fan out to big_leaf with arguments larger than etcd should hold (they become blobs).

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("big_leaf")
    for i in range(arguments["n"]):
        yield i, chr(ord("a") + i) * arguments["size"]
