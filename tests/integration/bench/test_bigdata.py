"""`python -m benchmarks.bigdata` as a user runs it, on 1 and 2 MB corpora: the plain process
and our engine taking turns on each size, in two rounds, every answer checked (a smoke test
of the harness, no timing asserted)."""
import json
import subprocess
import sys

from tests.support.cluster import REPO


def test_two_rounds_of_plain_and_mr_report_each_jobs_fastest_run(tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks.bigdata", "--sizes", "1", "2",
                           "--jobs", "wordcount", "--systems", "plain", "mr", "--split-mb", "1",
                           "--repeat", "2", "--workdir", str(tmp_path), "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    measured = [row for row in result["rows"] if not row["warm"]]
    assert [(row["system"], row["size_mb"]) for row in measured] == [
        ("plain", 1), ("plain", 2), ("mr", 1), ("mr", 2)]
    assert [row["system"] for row in result["rows"] if row["warm"]] == ["plain", "mr"]
    for row in measured:
        assert row["checked"] and "error" not in row
        assert len(row["runs_s"]) == 2 and row["seconds"] == min(row["runs_s"])
    assert [s["system"] for s in result["systems"]] == ["plain", "mr"]
    # the systems take turns on each size, in each round
    starts = [line for line in done.stderr.splitlines() if ": starting" in line]
    assert starts == [f"{name}: starting for wordcount {size} MB (round {turn} of 2)"
                      for turn in (1, 2) for size in (1, 2) for name in ("plain", "mr")]
