"""A group-by over CSV rows: each sale's cents by its city.

**
handler_type: mapper
required_capability: general
input: csv
"""


def handle(ctx, records):
    for row in records:
        yield row["city"], int(row["cents"])
