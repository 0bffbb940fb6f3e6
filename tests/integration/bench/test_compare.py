"""`python -m benchmarks.compare` as a user runs it: our engine alone on tiny inputs (a smoke
test of the whole harness, no timing asserted), --help, bad input, and a missing peer."""
import importlib.util
import json
import subprocess
import sys

import pytest

from tests.support.cluster import REPO


def compare(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.compare", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_runs_every_workload_on_mr_and_checks_the_answers():
    done = compare("--systems", "mr", "--parts", "50", "--repeat", "1",
                   "--latency-requests", "5", "--latency-series", "1", "--load-clients", "4",
                   "--load-requests", "8", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    rows = {r["workload"]: r for r in result["rows"]}
    assert list(rows) == ["fanout 50", "nested 50", "latency 1 part", "latency 4 clients",
                          "wordcount 200 chunks"]
    assert rows["latency 4 clients"]["runs"] == 8
    for r in rows.values():
        assert "error" not in r and r["system"] == "mr" and r["answer"]
        assert r["etcd_writes_per_invocation"] > 0 and r["nsq_messages_per_invocation"] >= 1
        assert r["worker_peak_rss_mib"] > 0
        spent = r["cpu_ms_per_part_by_process"]   # every process of the cluster, by name
        assert {"etcd", "broker", "worker1", "worker2", "gunicorn"} <= set(spent), spent
        assert r["cpu_ms_per_part"] == pytest.approx(sum(spent.values()), abs=0.01)
        assert min(spent.values()) >= 0
    assert rows["fanout 50"]["parts_per_s"] > 0 and rows["latency 1 part"]["runs"] == 5
    assert rows["wordcount 200 chunks"]["chunks_per_s"] > 0
    # CPU is counted in clock ticks (10 ms): a five-request row may show none, the run not
    spent = [r["cpu_ms_per_part_by_process"] for r in rows.values()]
    assert sum(s["etcd"] for s in spent) > 0 and sum(s["worker1"] for s in spent) > 0
    assert result["disagreements"] == [] and result["ratios"] == []
    assert any(g["goal"].startswith("etcd writes per invocation") for g in result["goals"])


def test_help_and_bad_input():
    shown = compare("--help", timeout=30)
    assert shown.returncode == 0 and "--systems" in shown.stdout and "Celery" in shown.stdout
    bad = compare("--parts", "0", timeout=30)
    assert bad.returncode == 2 and "0 is not a positive number" in bad.stderr
    unknown = compare("--systems", "spark", timeout=30)
    assert unknown.returncode == 2 and "invalid choice: 'spark'" in unknown.stderr


@pytest.mark.skipif(importlib.util.find_spec("celery") is not None,
                    reason="Celery is installed here; the message is for machines without it")
def test_a_missing_peer_says_how_to_install_it():
    done = compare("--systems", "celery", timeout=30)
    assert done.returncode == 2
    assert "'celery' is not installed: pip install -e '.[bench]'" in done.stderr
    assert "--systems mr" in done.stderr
