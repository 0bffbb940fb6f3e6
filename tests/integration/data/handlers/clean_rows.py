"""Clean JSON-lines rows, a map-only step (ETL): drop refunds, tidy names, amounts in cents;
each row keeps its place in the input.

**
handler_type: mapper
required_capability: general
input: jsonl
"""


def handle(ctx, records):
    for row in records:
        if row["amount"] < 0:
            ctx.tally("dropped")
            continue
        ctx.tally("kept")
        yield row["id"], {"name": row["name"].strip().title(),
                          "cents": round(row["amount"] * 100)}
