"""Hold like `held_words`, except a split whose first line starts with "fail": it waits until
a held split has announced itself, then fails, so that a test sees its request fail while
another split of it still runs.

**
handler_type: mapper
required_capability: general
input: text
"""
import os
import time


def handle(ctx, records):
    first = next(iter(records), "")
    if first.startswith("fail"):
        while not ctx.fs.exists("held/holding"):
            time.sleep(0.02)
        raise ValueError("this split fails on purpose")
    with ctx.fs.open(f"held/map-{ctx.invocation_id}.{os.getpid()}", "w") as mark:
        mark.write(str(os.getpid()))
    with ctx.fs.open("held/holding", "w") as holding:
        holding.write(ctx.invocation_id)
    while not ctx.fs.exists("held/go"):
        time.sleep(0.02)
    yield first, 1
