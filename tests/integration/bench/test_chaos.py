"""`python -m benchmarks.chaos` for one minute, as CI's soak: every kind of fault injected,
every request ends exactly as it must."""
import json
import subprocess
import sys

from benchmarks.chaos_faults import FAULTS
from tests.support.cluster import REPO


def test_a_minute_of_faults_loses_nothing_and_answers_exactly(tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks.chaos", "--minutes", "1",
                           "--fault-every", "3", "--workdir", str(tmp_path), "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["requests"] > 20 and summary["as_expected"] == summary["requests"]
    assert summary["wrong"] == summary["lost"] == summary["hanging"] == 0
    assert summary["reduced_twice_by_a_healthy_process"] == 0
    assert set(summary["faults"]) == set(FAULTS) and summary["fault_errors"] == []
    assert summary["messages_duplicated"] > 0
    assert {"done", "failed", "cancelled"} <= set(summary["ended"])


def test_help_says_what_it_runs():
    shown = subprocess.run([sys.executable, "-m", "benchmarks.chaos", "--help"], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "--minutes" in shown.stdout and "hanging" in shown.stdout
