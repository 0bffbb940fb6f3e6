"""One word's sorted ids from the id lists of every split, streamed: a word's lists come in
the order of the splits, and each split's ids grow through the file, so chaining them is
already the sorted list, written a slice at a time (the commonest word's seven million ids
never exist at once).

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
