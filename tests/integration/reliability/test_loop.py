"""The failures together, again and again: five rounds, each with every message delivered
three times, a worker SIGKILLed at a random moment, and etcd or the broker restarted, while a
blocking and a non-blocking request run. Every round ends, on time, with correct results
(leaves, whose claim commits with their outcome, may run again for a copy of their message
that came while they ran; nothing else does)."""
from __future__ import annotations

import random
import time

from mr.cluster import wait_for
from mr.queue.topics import topic
from tests.integration.reliability.conftest import (
    alive_workers,
    assert_tree_done,
    progress,
    start_tree,
    tally_log,
    tree_invocations,
    tree_total,
)
from tests.integration.reliability.test_restarts import Blocking
from tests.support import chaos

ROUNDS, ROUND_LIMIT_S = 5, 60


def test_crash_duplicate_restart_rounds(rel, own_etcd):
    rng = random.Random(8)
    replayer = chaos.Replayer(rel.broker, topic(rel.wf, "general"), copies=2, max_defer_ms=300)
    suspects: set[int] = set()
    try:
        for round_number in range(ROUNDS):
            began = time.monotonic()
            groups, leaves = rng.randint(2, 4), rng.randint(3, 6)
            blocking = Blocking(rel, f"/job/{rel.wf}/tree",
                                {"groups": 2, "leaves": 3, "sleep": 0.05}, timeout=ROUND_LIMIT_S)
            request_id = start_tree(rel, groups, leaves, sleep=0.1)
            moment = rng.randint(0, tree_invocations(groups, leaves) // 2)
            wait_for(lambda: progress(rel, request_id) >= moment, timeout=30,
                     message=f"round {round_number}: {moment} reductions")
            suspects.add(chaos.sigkill(rng.choice(alive_workers(rel))))
            service = own_etcd if round_number % 2 == 0 else rel.broker
            chaos.stop_service(service)
            service.start()
            rel.start_workers(1)
            assert_tree_done(rel, request_id, suspects, groups, leaves, timeout=ROUND_LIMIT_S,
                             duplicates=True)
            reply = blocking.join(ROUND_LIMIT_S).reply
            assert reply is not None and reply.status_code == 200, blocking.error or reply.text
            assert reply.json()["result"] == [["total", tree_total(2, 3)]]
            runs = chaos.runs_of(tally_log(rel), reply.json()["request_id"])
            assert len(runs) == tree_invocations(2, 3)
            assert chaos.extra_runs(runs, suspects, chaos.is_leaf) == {}
            assert time.monotonic() - began < ROUND_LIMIT_S
        assert replayer.copied > 0
    finally:
        replayer.stop()
