"""`python -m benchmarks.bigdata` as a user runs it, on a 1 MB corpus: the plain process and
our engine in two rounds, every answer checked (a smoke test of the harness, no timing
asserted)."""
import json
import subprocess
import sys

from tests.support.cluster import REPO


def test_two_rounds_of_plain_and_mr_report_each_jobs_fastest_run(tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks.bigdata", "--sizes", "1",
                           "--jobs", "wordcount", "--systems", "plain", "mr", "--split-mb", "1",
                           "--repeat", "2", "--workdir", str(tmp_path), "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    measured = [row for row in result["rows"] if not row["warm"]]
    assert [row["system"] for row in measured] == ["plain", "mr"]
    for row in measured:
        assert row["checked"] and "error" not in row
        assert len(row["runs_s"]) == 2 and row["seconds"] == min(row["runs_s"])
    assert [s["system"] for s in result["systems"]] == ["plain", "mr"]
    # rounds take turns: each system started once per round
    starts = [line for line in done.stderr.splitlines() if ": starting" in line]
    assert starts == ["plain: starting (round 1 of 2)", "mr: starting (round 1 of 2)",
                      "plain: starting (round 2 of 2)", "mr: starting (round 2 of 2)"]
