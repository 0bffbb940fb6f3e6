"""Sum each word's counts, tallying the words.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    for word, counts in results:
        ctx.tally("keys")
        yield word, sum(counts)
