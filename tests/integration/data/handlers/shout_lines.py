"""Upper-case each line, a map-only step, tallying the lines; a line "boom" fails its split
until the test writes flaky/fixed, so that a retry finishes it.

**
handler_type: mapper
required_capability: general
input: text
"""


def handle(ctx, records):
    for line in records:
        if line == "boom" and not ctx.fs.exists("flaky/fixed"):
            raise ValueError("boom, on purpose")
        ctx.tally("lines")
        yield line.upper(), len(line)
