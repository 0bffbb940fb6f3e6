"""Pass every value on under its key.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    for key, values in results:
        for value in values:
            yield key, value
