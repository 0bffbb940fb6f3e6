"""Workers that die or hang mid-request: the request still completes, correctly, once.

A SIGKILLed worker's in-flight messages come back to the other workers; a frozen (SIGSTOPped)
worker's messages come back after the NSQ message timeout; a handler that runs longer than
that timeout is kept alive by TOUCH and is neither redelivered nor run twice.
"""
from __future__ import annotations

import random
from pathlib import Path

import requests

from mr.cluster import wait_for
from mr.queue.topics import topic
from tests.integration.reliability.conftest import (
    GROUPS,
    LEAVES,
    MSG_TIMEOUT_S,
    alive_workers,
    assert_tree_done,
    progress,
    start_tree,
    tally_log,
    tree_invocations,
    tree_total,
)
from tests.support import chaos


def test_sigkill_a_worker_at_random_moments(rel):
    rng = random.Random(20240608)
    suspects: set[int] = set()
    for _round in range(3):
        request_id = start_tree(rel)
        # A random point of progress: from "nothing reduced yet" to "almost done".
        moment = rng.randint(0, tree_invocations(GROUPS, LEAVES) - 4)
        wait_for(lambda: progress(rel, request_id) >= moment, timeout=30,
                 message=f"{moment} reductions")
        suspects.add(chaos.sigkill(rng.choice(alive_workers(rel))))
        rel.start_workers(1)  # a replacement; the survivor carries on meanwhile
        assert_tree_done(rel, request_id, suspects)


def test_a_killed_workers_script_handler_dies_with_it(rel):
    """A subprocess handler leads its own session (so a time limit can kill its group), so it
    would outlive a SIGKILLed worker: its parent-death signal ends it with the worker."""
    shared = Path(rel.env["MR_DATA_DIR"]) / "shared" / rel.wf
    go = shared / "held_sh.go"
    go.unlink(missing_ok=True)
    reply = requests.post(f"{rel.web.url}/job/{rel.wf}/held_sh", params={"blocking": "false"},
                          json={"arguments": {}}, timeout=30)
    assert reply.status_code == 202, reply.text
    request_id = reply.json()["request_id"]
    mark = wait_for(lambda: next(shared.glob(f"held_sh.{request_id}.*.pid"), None),
                    timeout=30, message="the script running")
    script = int(mark.read_text())
    worker = next(w for w in rel.workers if w.pid == chaos.parent_pid(script))
    try:
        chaos.sigkill(worker)
        wait_for(lambda: not chaos.running(script), timeout=10,
                 message=f"script process {script} killed with its worker")
        rel.start_workers(1)
    finally:
        go.touch()
    ended = rel.wait_ended(rel.wf, request_id, timeout=60)
    assert ended["state"] == "done" and ended["result"] == [["held", 1]], ended


def test_frozen_worker_messages_come_back_after_the_msg_timeout(rel):
    """A SIGSTOPped worker holds its messages without answering; NSQ times them out."""
    channel_before = chaos.channel_stats(rel.broker.http_address, topic(rel.wf, "general"),
                                         "workers")
    request_id = start_tree(rel, sleep=0.3)
    wait_for(lambda: progress(rel, request_id) >= 3, timeout=30, message="some leaves done")
    frozen = alive_workers(rel)[0]
    chaos.freeze(frozen)
    try:
        assert_tree_done(rel, request_id, {frozen.pid}, timeout=MSG_TIMEOUT_S + 40)
    finally:
        chaos.thaw(frozen)
    channel = chaos.channel_stats(rel.broker.http_address, topic(rel.wf, "general"), "workers")
    assert channel["timeout_count"] > channel_before.get("timeout_count", 0)
    # Once thawed, the worker serves again and its late results changed nothing.
    body = rel.post(rel.wf, "tree", {"groups": 2, "leaves": 2, "sleep": 0}).json()
    assert body["result"] == [["total", tree_total(2, 2)]]
    assert rel.get_request(rel.wf, request_id).json()["result"] == [
        ["total", tree_total(GROUPS, LEAVES)]]


def test_handler_longer_than_msg_timeout_is_touched_not_redelivered(rel):
    seconds = MSG_TIMEOUT_S * 2.5
    channel_before = chaos.channel_stats(rel.broker.http_address, topic(rel.wf, "general"),
                                         "workers")
    reply = rel.post(rel.wf, "long", {"seconds": seconds}, timeout=60)
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == [["slept", seconds]]
    request_id = reply.json()["request_id"]
    starts = (Path(rel.env["MR_DATA_DIR"]) / "long_run_starts.log").read_text().splitlines()
    assert [line for line in starts if line.startswith(request_id)] != []
    assert len([line for line in starts if line.startswith(request_id)]) == 1
    channel = chaos.channel_stats(rel.broker.http_address, topic(rel.wf, "general"), "workers")
    assert channel["timeout_count"] == channel_before["timeout_count"]
    assert len(chaos.runs_of(tally_log(rel), request_id)) == 1
