"""Run for `seconds` (longer than the NSQ message timeout); log each start.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
request_arguments:
  seconds: float
"""
import os
import time
from pathlib import Path

from mr.handlers.api import Return


def handle(ctx, arguments):
    starts = Path(os.environ["MR_DATA_DIR"]) / "long_run_starts.log"
    starts.parent.mkdir(parents=True, exist_ok=True)
    with open(starts, "a") as fh:
        fh.write(f"{ctx.request_id} {os.getpid()}\n")
    yield Return()
    time.sleep(arguments["seconds"])
    yield "slept", arguments["seconds"]
