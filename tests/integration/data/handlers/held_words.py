"""Count (and tally) words like `words`, but first announce this split in the shared
filesystem (with the pid of the process running it) and wait there until the test lets it
go: a test can kill its worker mid-map.

**
handler_type: mapper
required_capability: general
input: text
"""
import os
import time


def handle(ctx, records):
    with ctx.fs.open(f"held/map-{ctx.invocation_id}.{os.getpid()}", "w") as mark:
        mark.write(str(os.getpid()))
    while not ctx.fs.exists("held/go"):
        time.sleep(0.02)
    for line in records:
        words = line.split()
        ctx.tally("words", len(words))
        for word in words:
            yield word, 1
