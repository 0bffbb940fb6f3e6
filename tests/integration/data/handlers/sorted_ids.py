"""Each word's document ids, sorted.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    for word, ids in results:
        yield word, sorted(ids)
