"""Sum each word's counts.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    for word, counts in results:
        yield word, sum(counts)
