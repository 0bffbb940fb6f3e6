"""Sum each key's values, on a gpu worker.

**
handler_type: reducer
required_capability: gpu
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    for key, values in results:
        yield key, sum(values)
