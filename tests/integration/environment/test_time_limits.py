"""Per-handler time limits end to end: a Python generator and a shell script that run far
past time_limit_s fail their request with a record naming the handler and the limit; the
script's process is killed."""

from pathlib import Path

import pytest

from mr.cluster import wait_for
from tests.support.chaos import alive


@pytest.mark.parametrize("job", ["slow_py", "slow_sh"])
def test_handler_over_its_time_limit_fails_the_request(traced, job):
    reply = traced.post(traced.wf, job, {})   # the handlers would run 60 s; the request's
    assert reply.status_code == 500, reply.text   # own timeout (60 s) would answer 504
    body = reply.json()
    assert body["error"] == (f"handler {job} exceeded its time limit of 1s (time_limit_s) in "
                             f"invocation 0")
    assert body["failure"]["handler"] == job and body["failure"]["time_limit_s"] == 1.0
    if job == "slow_sh":
        pid_file = (Path(traced.env["MR_DATA_DIR"]) / "shared" / traced.wf /
                    f"slow_sh.{body['request_id']}.pid")
        pid = int(pid_file.read_text())
        wait_for(lambda: not alive(pid), timeout=10, message=f"script process {pid} killed")

