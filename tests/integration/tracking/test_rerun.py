"""Re-running chosen subtrees of an ended request over real processes: only they run again,
what depends on them is reduced again up to a new result, the rest keeps its outputs; and
the refusals say why."""
from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import requests

from tests.integration.tracking.test_tracking import url


def leaf_runs(engine, rid: str) -> Counter:
    """How many times each leaf of the request ran (the leaves note every run)."""
    log = Path(engine.env["MR_DATA_DIR"]) / "leaf_runs.log"
    return Counter(int(line.split()[1]) for line in log.read_text().splitlines()
                   if line.startswith(rid + " "))


def rerun(engine, rid: str, invocations: str, **params) -> requests.Response:
    return requests.post(url(engine, f"/request/{engine.wf}/{rid}/rerun"),
                         params={"invocations": invocations, **params}, timeout=90)


def squares(leaves) -> int:
    return sum(i * i for i in leaves)


def test_a_subtree_of_a_done_request_runs_again_to_a_new_result(engine):
    leaves = [m * 100 + j for m in range(3) for j in range(4)]
    done = engine.post(engine.wf, "fan", {"mids": 3, "n": 4})
    assert done.status_code == 200, done.text
    rid = done.json()["request_id"]
    assert done.json()["result"] == [["total", squares(leaves)]]
    (Path(engine.env["MR_DATA_DIR"]) / f"bonus-{rid}").write_text("1000")

    again = rerun(engine, rid, "0.1", blocking="true")        # mid 1 and its 4 leaves
    assert again.status_code == 200, again.text
    assert again.json()["result"] == [["total", squares(leaves) + 4 * 1000]]
    runs = leaf_runs(engine, rid)
    assert {i for i, n in runs.items() if n == 2} == {100, 101, 102, 103}, runs
    assert all(runs[i] == 1 for i in leaves if i // 100 != 1), runs

    env = {**os.environ, **engine.env}
    shown = subprocess.run(["mr_request_rerun", engine.wf, rid, "0.2.3", "--json"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["rerun"] == ["0.2.3"]
    body = engine.wait_ended(engine.wf, rid)
    assert body["state"] == "done" and body["result"] == [["total",
                                                           squares(leaves) + 5 * 1000]]
    assert leaf_runs(engine, rid)[203] == 2
    progress = requests.get(url(engine, f"/request/{engine.wf}/{rid}/progress"),
                            timeout=30).json()
    assert progress["percent"] == 100 and progress["counts"]["failed"] == 0, progress


def test_a_failed_request_reruns_a_subtree_and_finishes_what_was_stopped(engine):
    """Leaf 2 fails the request and stops the rest; re-running mid 0 (with leaf 2 fixed) runs
    its leaves again, while mid 1's unfinished leaves run as a retry would run them, and its
    finished ones are kept."""
    failed = engine.post(engine.wf, "fan", {"mids": 2, "n": 3, "fail_at": 2, "sleep": 0.3})
    assert failed.status_code == 500, failed.text
    rid = failed.json()["request_id"]
    before = leaf_runs(engine, rid)
    (Path(engine.env["MR_DATA_DIR"]) / f"fixed-{rid}").touch()
    fixed = rerun(engine, rid, "0.0", blocking="true")
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["result"] == [["total", squares([0, 1, 2, 100, 101, 102])]]
    after = leaf_runs(engine, rid)
    assert all(after[i] == before[i] + 1 for i in (0, 1, 2)), (before, after)
    assert all(after[i] >= 1 for i in (100, 101, 102)), after


def test_rerun_refusals_say_why(engine):
    done = engine.post(engine.wf, "fan", {"n": 2})
    rid = done.json()["request_id"]
    for invocations, status, words in (("", 400, "name the invocations"),
                                       ("0.9", 404, "'0.9' does not exist"),
                                       ("0.r", 400, "re-run the mapper invocation above it (0)")):
        refused = rerun(engine, rid, invocations)
        assert refused.status_code == status and words in refused.json()["error"], refused.text
    running = engine.post(engine.wf, "fan", {"n": 2, "sleep": 3}, blocking=False)
    busy = rerun(engine, running.json()["request_id"], "0")
    assert busy.status_code == 409 and "only an ended request" in busy.json()["error"]
    engine.wait_ended(engine.wf, running.json()["request_id"])
