"""A reduce-side join, reduce side: each customer's name (None if unknown) and the total of
its orders.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    for customer, tagged in results:
        names = [value for tag, value in tagged if tag == "customer"]
        yield customer, [names[0] if names else None,
                         sum(value for tag, value in tagged if tag == "order")]
