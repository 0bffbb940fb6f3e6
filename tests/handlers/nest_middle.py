"""Each middle mapper maps again: three leaves each.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    ctx.session.set("seen", arguments[0][1])
    yield MapTo("leaf")
    for _key, value in arguments:
        for j in range(3):
            yield j, value * 10 + j
