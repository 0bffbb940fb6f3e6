"""Tally itself, print, log its run, sleep, and return i*i (plus the number in its
request's "bonus" file in $MR_DATA_DIR, if there is one); leaf `fail_at` raises until its
request's "fixed" file exists there.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
import os
import time
from pathlib import Path

from mr.handlers.api import Return


def handle(ctx, arguments):
    data = Path(os.environ["MR_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    ctx.tally("leaves")   # a run that then fails must not count
    for _key, value in arguments:
        with open(data / "leaf_runs.log", "a") as runs:
            runs.write(f"{ctx.request_id} {value['i']}\n")
        print(f"leaf {value['i']} starts")
        time.sleep(value["sleep"])
        if value["i"] == value["fail_at"] and not (data / f"fixed-{ctx.request_id}").exists():
            raise RuntimeError(f"leaf {value['i']} is broken")
    bonus = data / f"bonus-{ctx.request_id}"
    extra = int(bonus.read_text()) if bonus.exists() else 0
    yield Return()
    for _key, value in arguments:
        yield "total", value["i"] * value["i"] + extra
