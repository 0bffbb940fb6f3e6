"""Sum each key's values.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    for key, values in results:
        yield key, sum(values)
