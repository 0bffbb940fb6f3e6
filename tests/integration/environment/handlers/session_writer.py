"""A reducer that writes its mapper's session: the request fails with a clear error.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    ctx.session.set("seen", "overwritten")
    return results
