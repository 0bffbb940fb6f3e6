"""Each split's map and partition's reduce runs in a process of its own (mr.engine.data_process)
and is claimed in etcd only if it runs long (mr.engine.claiming): on real processes, a time
limit kills a handler stuck in its own loop, a killed data process fails its invocation
saying so, what a handler prints or logs reaches the request's record, a long split
shows as running, and a request that ends (cancelled, or failed by another split) ends the
data processes still running for it."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import requests

from mr import cluster
from mr.engine import registry
from mr.kv import keys
from mr.kv.models import Invocation, decode
from tests.integration.data.conftest import CLAIM_AFTER_S
from tests.integration.data.test_data_failures import held, release, start, worker_of  # noqa: F401
from tests.integration.data.test_data_jobs import all_pairs, write_corpus
from tests.support import chaos


def pid_of(mark) -> int:
    return int(mark.name.rsplit(".", 1)[1])


def failure_of(data, job: str, text: str) -> dict:
    """POST job `job` over one file holding `text`: the handler failure it ends with."""
    (data.shared / job).mkdir(exist_ok=True)
    (data.shared / job / "a.txt").write_text(text)
    reply = requests.post(f"{data.web.url}/job/{data.wf}/{job}",
                          json={"arguments": {}, "inputs": [f"{job}/a.txt"]}, timeout=60)
    assert reply.status_code == 500, reply.text
    return reply.json()["failure"]


def test_a_handler_stuck_in_its_own_loop_is_ended_by_its_time_limit(data, release):
    failure = failure_of(data, "spin", "one two\n")
    assert failure["reason"] == "handler"
    assert "spin_words exceeded its time limit of 1s" in failure["message"], failure
    assert failure["time_limit_s"] == 1
    mark = next(iter(held(data, "spin")))
    cluster.wait_for(lambda: not chaos.alive(pid_of(mark)), timeout=10,
                     message="the spinning process ended")


def test_a_killed_data_process_fails_its_invocation_saying_so(data, release):
    (data.shared / "killed").mkdir(exist_ok=True)
    (data.shared / "killed" / "a.txt").write_text("one two\n")
    request_id = start(data, "held_map", ["killed/a.txt"])
    mark = cluster.wait_for(lambda: next(iter(held(data, "map")), None), timeout=30,
                    message="the split's mapper running")
    os.kill(pid_of(mark), 9)
    body = data.wait_ended(data.wf, request_id, timeout=60)
    assert body["state"] == "failed", body
    assert "was killed by SIGKILL" in body["failure"]["message"], body["failure"]
    assert body["failure"]["handler"] == "held_words"


def data_processes_end(data, kind: str) -> None:
    """Every held `kind` handler's process ends (none is let go: only the engine ends it)."""
    cluster.wait_for(lambda: not any(chaos.alive(pid_of(mark)) for mark in held(data, kind)),
                     timeout=15, message=f"the held {kind} processes ended")


@pytest.mark.parametrize("job, kind", [("held_map", "map"), ("held_reduce", "reduce")])
def test_cancelling_a_request_ends_its_running_data_processes(data, release, job, kind):
    (data.shared / "cancel").mkdir(exist_ok=True)
    (data.shared / "cancel" / "a.txt").write_text("one two\n")
    request_id = start(data, job, ["cancel/a.txt"])
    cluster.wait_for(lambda: held(data, kind), timeout=30, message=f"the {kind} running")
    reply = requests.delete(f"{data.web.url}/request/{data.wf}/{request_id}", timeout=30)
    assert reply.status_code == 200, reply.text
    data_processes_end(data, kind)
    body = requests.get(f"{data.web.url}/request/{data.wf}/{request_id}", timeout=30).json()
    assert body["state"] == "cancelled", body
    assert body["failure"]["reason"] == "cancelled", body["failure"]


def test_a_request_failed_by_one_split_ends_its_other_running_splits(data, release):
    (data.shared / "sibling").mkdir(exist_ok=True)
    (data.shared / "sibling" / "a.txt").write_text("hold this split\n")
    (data.shared / "sibling" / "b.txt").write_text("fail this one\n")
    request_id = start(data, "held_or_failing", ["sibling/a.txt", "sibling/b.txt"])
    body = data.wait_ended(data.wf, request_id, timeout=60)
    assert body["state"] == "failed", body
    assert "this split fails on purpose" in body["failure"]["message"], body["failure"]
    assert held(data, "map"), "the other split was running when the request failed"
    data_processes_end(data, "map")


def test_what_a_data_handler_prints_and_logs_reaches_the_request(data):
    failure = failure_of(data, "loud", "one two\nthree boom\n")
    assert failure["message"] == ("handler loud_words raised ValueError: cannot count "
                                  "'three boom'"), failure
    assert 'loud_words.py", line 15, in handle' in failure["traceback"], failure["traceback"]
    assert "split of 0.0 starts" in failure["log"]
    assert "INFO reading 0.0" in failure["log"]


def test_a_long_split_is_claimed_a_short_while_after_it_starts(data, release):
    """Unclaimed at first (its completion alone would write etcd), then shown running
    (after MR_DATA_CLAIM_AFTER_S)."""
    (data.shared / "long").mkdir(exist_ok=True)
    (data.shared / "long" / "a.txt").write_text("one two\n")
    request_id = start(data, "held_map", ["long/a.txt"])
    mark = cluster.wait_for(lambda: next(iter(held(data, "map")), None), timeout=30,
                    message="the split's mapper running")
    began = time.monotonic()

    def split() -> Invocation:
        return decode(Invocation, data.kv.get(keys.invocation(data.wf, request_id,
                                                              "0.0")).value)
    first = split()
    if time.monotonic() - began < CLAIM_AFTER_S / 2:
        assert first.state == "queued" and first.worker is None, first
    claimed = cluster.wait_for(
        lambda: (lambda inv: inv if inv.state == "running" else None)(split()),
        timeout=CLAIM_AFTER_S + 10, message="the split claimed")
    assert f"-{worker_of(data, mark).pid}-" in claimed.worker
    (release / "go").touch()
    assert data.wait_ended(data.wf, request_id, timeout=60)["state"] == "done"


def test_a_worker_may_run_data_handlers_in_its_own_threads(data):
    """MR_DATA_ISOLATION=thread: the splits' maps (and their combiner) run in the worker
    process itself; the partitions' reduce in the other workers' data processes."""
    env = {**data.env, "MR_DATA_ISOLATION": "thread", "MR_CAPABILITIES": "in_thread"}
    before = len(registry.live_workers(data.kv))
    worker = cluster.worker("threaded", env, data.tmp / "threaded.log").start()
    data.workers.append(worker)
    cluster.wait_for(lambda: len(registry.live_workers(data.kv)) > before, timeout=30,
                     message="the threaded worker registered")
    expected = write_corpus(data.shared / "here", seed=21)
    reply = requests.post(f"{data.web.url}/job/{data.wf}/wc_here",
                          json={"arguments": {}, "inputs": ["here/*.txt"],
                                "split_bytes": 2000}, timeout=60)
    assert reply.status_code == 200, reply.text
    assert dict(all_pairs(data, reply.json()["request_id"], limit=500)) == dict(expected)
    ran_in = {pid_of(mark) for mark in (data.shared / "here").glob("ran-in.*")}
    assert ran_in == {worker.pid}, (ran_in, worker.pid)


def test_a_worker_run_by_its_console_script_does_not_rerun_it_in_data_processes(data):
    """As in production: `mr_worker` is a script, and multiprocessing runs the main script
    again in each process it starts, importing the whole worker for every split."""
    before = data.kv.count(keys.workers())
    worker = cluster.Service("script-worker", [str(Path(sys.executable).parent / "mr_worker"),
                                               "--capability", "script"],
                             data.tmp / "script-worker.log", env=data.env).start()
    try:
        cluster.wait_for(lambda: data.kv.count(keys.workers()) > before, timeout=30,
                         message="the console script's worker registered")
        (data.shared / "script").mkdir(parents=True, exist_ok=True)
        (data.shared / "script" / "a.txt").write_text("one\n" * 1000)
        reply = requests.post(f"{data.web.url}/job/{data.wf}/script",
                              json={"arguments": {}, "inputs": ["script/a.txt"],
                                    "split_bytes": 1000}, timeout=60)
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"] == [["ran_main_script_again", 0]], reply.json()
    finally:
        worker.stop()
