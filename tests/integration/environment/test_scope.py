"""Scope factories end to end: a value injected into one handler and not another; a broken
factory stops mr_worker at start with a clear message."""
import subprocess
import sys

import pytest

from tests.support.cluster import REPO

SCOPES = "tests.integration.environment.scopes"


def test_secret_reaches_one_handler_only(traced):
    reply = traced.post(traced.wf, "scoped", {})
    assert reply.status_code == 200, reply.text
    assert dict(map(tuple, reply.json()["result"])) == {"mapper_secret": "s3cr3t",
                                                         "reducer_secret": None}


@pytest.mark.parametrize("path, message", [
    (f"{SCOPES}:broken", "raised RuntimeError for handler"),
    (f"{SCOPES}:nothing_here", f"module '{SCOPES}' has no 'nothing_here'"),
    ("no_such_package.scopes:f", "cannot import 'no_such_package'"),
])
def test_broken_factory_stops_the_worker_at_start(traced, path, message):
    env = {**traced.env, "MR_SCOPE_FACTORIES": f"{traced.wf}={path}"}
    started = subprocess.run([sys.executable, "-m", "mr.worker", "--workflow", traced.wf],
                             env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert started.returncode == 2, started.stderr
    assert f"error: workflow {traced.wf!r}: scope factory {path!r}: " in started.stderr
    assert message in started.stderr and "Traceback" not in started.stderr
