"""Print a line and set a status, then wait until its request's "release" file exists in
$MR_DATA_DIR (so a test can read the log and status while it runs); fail on purpose at the
attempts the request names.

**
handler_type: mapper
required_capability: general
retries: 2
argument_spec:
  - {name: arguments, type: dict}
request_arguments:
  fail_attempts: {type: list, required: false}
"""
import os
import time
from pathlib import Path

from mr.handlers.api import Return


def handle(ctx, arguments):
    print(f"attempt {ctx.attempt} starts")
    ctx.metrics.counter("chatty_attempts", outcome="started").inc()
    ctx.status(f"attempt {ctx.attempt}: waiting for release")
    if ctx.attempt in arguments.get("fail_attempts", []):
        raise RuntimeError(f"attempt {ctx.attempt} fails on purpose")
    release = Path(os.environ["MR_DATA_DIR"]) / f"release-{ctx.request_id}"
    deadline = time.monotonic() + 60
    with ctx.metrics.timer("chatty_wait"):
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    print(f"attempt {ctx.attempt} released")
    ctx.status(f"attempt {ctx.attempt}: done")
    yield Return()
    yield "total", ctx.attempt
