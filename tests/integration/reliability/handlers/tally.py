"""Sum each key's values; log every run with the worker's pid to tell crashed runs apart.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""
import os
from pathlib import Path


def handle(ctx, results):
    runs = Path(os.environ["MR_DATA_DIR"]) / "tally_runs.log"
    runs.parent.mkdir(parents=True, exist_ok=True)
    with open(runs, "a") as fh:
        fh.write(f"{ctx.request_id} {ctx.invocation_id} {os.getpid()}\n")
    for key, values in results:
        yield key, sum(values)
