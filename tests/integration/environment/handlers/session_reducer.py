"""Read the mapper's session; try to write it and report the error.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""
from mr.engine.context import SessionReadOnly


def handle(ctx, results):
    yield "seen", ctx.session.get("seen")
    yield "keys", sorted(ctx.session.items())
    try:
        ctx.session.set("seen", "overwritten")
    except SessionReadOnly as exc:
        yield "write_error", f"{type(exc).__name__}: {exc}"
    for key, values in results:
        yield key, sum(values)
