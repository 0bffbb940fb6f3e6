"""Sum each key's values and record every run (one line per reducer run).

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""
import os
from pathlib import Path


def handle(ctx, results):
    runs = Path(os.environ["MR_DATA_DIR"]) / "reducer_runs.log"
    runs.parent.mkdir(parents=True, exist_ok=True)
    with open(runs, "a") as fh:
        fh.write(f"{ctx.request_id} {ctx.invocation_id}\n")
    for key, values in results:
        yield key, sum(values)
