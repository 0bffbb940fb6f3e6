"""Sum (and tally) counts like `sum_counts`, but first announce this partition (with the pid of the
process running it) and wait until the test lets it go: a test can kill its worker mid-reduce.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""
import os
import time


def handle(ctx, results):
    with ctx.fs.open(f"held/reduce-{ctx.invocation_id}.{os.getpid()}", "w") as mark:
        mark.write(str(os.getpid()))
    while not ctx.fs.exists("held/go-reduce"):
        time.sleep(0.02)
    for word, counts in results:
        ctx.tally("keys")
        yield word, sum(counts)
