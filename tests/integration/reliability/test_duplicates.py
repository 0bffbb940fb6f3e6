"""Every message delivered three times, the copies late and shuffled: same result, and every
mapper and reducer runs once (copies of a finished invocation are acknowledged, not run),
except that a leaf may also run for a copy that came while it ran: a leaf commits its claim
with its outcome, in one transaction, so only one run's output counts."""
from __future__ import annotations

from mr.cluster import wait_for
from mr.kv import keys
from mr.queue.topics import topic
from tests.integration.reliability.conftest import (
    start_tree,
    tally_log,
    tree_invocations,
    tree_total,
)
from tests.support import chaos

SHAPES = ((3, 4), (5, 6))


def drained(engine) -> bool:
    stats = chaos.channel_stats(engine.broker.http_address, topic(engine.wf, "general"),
                                "workers")
    return stats["depth"] == stats["in_flight_count"] == stats["deferred_count"] == 0


def test_every_message_three_times_out_of_order(rel):
    replayer = chaos.Replayer(rel.broker, topic(rel.wf, "general"), copies=2, max_defer_ms=400)
    request_ids = []
    try:
        for groups, leaves in SHAPES:
            reply = rel.post(rel.wf, "tree", {"groups": groups, "leaves": leaves, "sleep": 0.02})
            assert reply.status_code == 200, reply.text
            assert reply.json()["result"] == [["total", tree_total(groups, leaves)]]
            request_ids.append(reply.json()["request_id"])
        # Messages per request: the root, the groups, the leaves, a reduce per group and one
        # for the root. Copies of the last ones arrive after their request ended: harmless.
        expected = sum(1 + g + g * n + g + 1 for g, n in SHAPES)
        wait_for(lambda: replayer.copied >= expected, timeout=30, message="every message copied")
        wait_for(lambda: drained(rel), timeout=30, message="every copy consumed")
    finally:
        replayer.stop()
    for request_id, (groups, leaves) in zip(request_ids, SHAPES):
        runs = chaos.runs_of(tally_log(rel), request_id)
        assert len(runs) == tree_invocations(groups, leaves)
        assert {iid: pids for iid, pids in runs.items()
                if len(pids) > 1 and not chaos.is_leaf(iid)} == {}
    reply = rel.post(rel.wf, "tree", {"groups": 2, "leaves": 2, "sleep": 0})
    assert reply.json()["result"] == [["total", tree_total(2, 2)]]


def test_copies_of_running_leaves_run_but_their_outputs_count_once(rel):
    """Copies published at once, while their leaf runs unclaimed (it sleeps less than
    MR_CLAIM_AFTER_S): a copy on the worker running it is skipped there, one on the other
    worker runs it too. Both runs' one transaction (claim and outcome) compare the revision
    they read: the first commits, the other changes nothing, so each leaf's value is in the
    total once and the request counts each invocation once. Whether a copy reaches the other
    worker while the leaf still runs is up to timing: requests go on (at most five) until
    one has a leaf that ran on both."""
    groups, leaves = 3, 6
    for _ in range(5):
        request_id = _tree_with_copies_of_running_leaves(rel, groups, leaves)
        runs = chaos.runs_of(tally_log(rel), request_id)
        if any(len(set(pids)) > 1 for iid, pids in runs.items() if chaos.is_leaf(iid)):
            break
    else:
        raise AssertionError(f"in five requests no leaf ran on two workers: {runs}")


def _tree_with_copies_of_running_leaves(rel, groups: int, leaves: int) -> str:
    replayer = chaos.Replayer(rel.broker, topic(rel.wf, "general"), copies=2, max_defer_ms=0)
    try:
        request_id = start_tree(rel, groups, leaves, sleep=0.15)
        body = rel.wait_ended(rel.wf, request_id, timeout=60)
        wait_for(lambda: drained(rel), timeout=30, message="every copy consumed")
    finally:
        replayer.stop()
    assert body["state"] == "done", body
    assert body["result"] == [["total", tree_total(groups, leaves)]]
    invocations = 1 + groups + groups * leaves + groups + 1  # mappers and reductions
    assert body["counts"] == {"queued": 0, "running": 0, "waiting": 0, "done": invocations,
                              "failed": 0, "skipped": 0}
    runs = chaos.runs_of(tally_log(rel), request_id)
    assert len(runs) == tree_invocations(groups, leaves)
    assert {iid: pids for iid, pids in runs.items()
            if len(pids) > 1 and not chaos.is_leaf(iid)} == {}
    assert rel.kv.count(keys.request_data(rel.wf, request_id)) == 0
    return request_id
