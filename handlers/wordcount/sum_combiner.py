"""Sum one chunk's counts per word before they leave the mapper.

**
handler_type: combiner
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    for word, counts in results:
        yield word, sum(counts)
