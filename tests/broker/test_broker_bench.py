"""`python -m benchmarks.broker_bench` as a user runs it, on a few messages: plain and with
each compression the publisher and the pynsq Reader negotiate (README gives its figures)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.cluster import REPO


@pytest.mark.parametrize("compression", ["none", "snappy", "deflate"])
def test_broker_bench_runs(compression):
    done = subprocess.run([sys.executable, "-m", "benchmarks.broker_bench", "--messages", "3000",
                           "--compression", compression, "--timeout", "60"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"compression: {compression}" in done.stdout
    assert "msgs/s end to end" in done.stdout


def test_broker_bench_help():
    shown = subprocess.run([sys.executable, "-m", "benchmarks.broker_bench", "--help"],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "--compression {none,snappy,deflate}" in shown.stdout
