"""A reduce-side join, map side: tag each record with the input it came from (its split's
path): customers {"id", "name"} and orders {"customer", "amount"}, both by customer id.

**
handler_type: mapper
required_capability: general
input: jsonl
"""


def handle(ctx, records):
    if "customers" in ctx.split["path"]:
        for record in records:
            yield record["id"], ["customer", record["name"]]
    else:
        for record in records:
            yield record["customer"], ["order", record["amount"]]
