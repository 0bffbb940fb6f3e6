"""A mapper that prints and logs, then raises on a line with the word "boom".

**
handler_type: mapper
required_capability: general
input: text
"""


def handle(ctx, records):
    print(f"split of {ctx.invocation_id} starts")
    ctx.log.info("reading %s", ctx.invocation_id)
    for line in records:
        if "boom" in line:
            raise ValueError(f"cannot count {line!r}")
        for word in line.split():
            yield word, 1
