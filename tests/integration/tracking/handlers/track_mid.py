"""A middle mapper: n leaves numbered m*100 + j (it tallies itself).

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    ctx.tally("mids")
    yield MapTo("track_leaf")
    for _key, value in arguments:
        for j in range(value["n"]):
            yield j, {"i": value["m"] * 100 + j, "sleep": value["sleep"],
                      "fail_at": value["fail_at"]}
