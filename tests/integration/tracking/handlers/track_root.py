"""Fan out n leaves, or `mids` middle mappers of n leaves each (it tallies itself).

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    ctx.tally("roots")
    options = {"sleep": arguments.get("sleep", 0), "fail_at": arguments.get("fail_at")}
    if arguments.get("mids"):
        yield MapTo("track_mid")
        for m in range(arguments["mids"]):
            yield m, dict(options, m=m, n=arguments["n"])
    else:
        yield MapTo("track_leaf")
        for i in range(arguments["n"]):
            yield i, dict(options, i=i)
