"""scripts/loopback_topology without a running topology: help, status and env say what to do."""
from __future__ import annotations

import os
import subprocess

from tests.support.cluster import REPO

SCRIPT = REPO / "scripts" / "loopback_topology"


def run(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MR_TOPOLOGY_DIR": str(tmp_path)})


def test_help_lists_the_commands(tmp_path):
    done = run(tmp_path, "--help")
    assert done.returncode == 0
    for command in ("start", "stop", "status", "env"):
        assert command in done.stdout


def test_status_and_env_before_start(tmp_path):
    status = run(tmp_path, "status")
    assert status.returncode == 1 and "not started ('scripts/loopback_topology start')" in (
        status.stdout)
    env = run(tmp_path, "env")
    assert env.returncode == 2
    assert "error: the topology is not running: 'scripts/loopback_topology start'" in env.stderr
    assert run(tmp_path, "stop").returncode == 0  # stopping nothing is fine


def test_bad_command(tmp_path):
    done = run(tmp_path, "restart")
    assert done.returncode == 2 and "invalid choice: 'restart'" in done.stderr
