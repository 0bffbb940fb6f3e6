"""A combiner whose output shows it ran: sums, plus one marker pair.

**
handler_type: combiner
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    yield "_combined", 1
    for key, values in results:
        yield key, sum(values)
