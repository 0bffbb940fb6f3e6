"""Sum each word's counts on the map side.

**
handler_type: combiner
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    return {word: sum(counts) for word, counts in results}
