"""One word's sorted ids from the id lists of every split (streamed: one word at a time).

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""
from itertools import chain


def handle(ctx, results):
    for word, id_lists in results:
        yield word, sorted(chain.from_iterable(id_lists))
