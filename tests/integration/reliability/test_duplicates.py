"""Every message delivered three times, the copies late and shuffled: same result, and every
mapper and reducer runs once (copies of a finished invocation are acknowledged, not run)."""
from __future__ import annotations

from mr.cluster import wait_for
from mr.queue.topics import topic
from tests.integration.reliability.conftest import tally_log, tree_invocations, tree_total
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
        assert {iid: pids for iid, pids in runs.items() if len(pids) > 1} == {}
    reply = rel.post(rel.wf, "tree", {"groups": 2, "leaves": 2, "sleep": 0})
    assert reply.json()["result"] == [["total", tree_total(2, 2)]]
