"""Say how many results the reducer received.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    yield "received", len(list(results))
