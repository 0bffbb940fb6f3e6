"""Each word's ids, streamed without a sort: a word's id lists come in the splits' order.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""
from itertools import chain


def handle(ctx, results):
    for word, id_lists in results:
        yield word, chain.from_iterable(id_lists)
