"""Reduce by passing every value through unchanged.

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
