"""Commits whose replies are lost, as when etcd stops right after applying them: the client
re-sends the call and meets its own write. A reduction made that way must still be published
and run; left to the stall sweep, its request would wait MR_STALL_S. Workers run with
tests/support/lost_replies on PYTHONPATH, which loses the first reply to every commit that
puts a key of a reduction (".r"): its creation, its claim and its completion."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.reliability.conftest import assert_tree_done, build, start_tree
from tests.support.lost_reply import losing_replies

STALL_S = 600   # far past the test's deadline: only the engine's own path can end it in time


@pytest.fixture(scope="module")
def lossy(etcd, tmp_path_factory):
    engine = build(tmp_path_factory.mktemp("lossy"), etcd.address,
                   extra_env={**losing_replies(".r"), "MR_STALL_S": str(STALL_S)})
    yield engine
    engine.stop()


def test_reductions_whose_commits_lost_their_replies_still_run(lossy):
    request_id = start_tree(lossy, groups=3, leaves=3, sleep=0.0)
    assert_tree_done(lossy, request_id, set(), groups=3, leaves=3, timeout=60)
    log = "".join(Path(worker.log_path).read_text() for worker in lossy.workers)
    lost = {line.split()[-3] for line in log.splitlines() if line.startswith("lost_replies:")}
    reductions = {key.rsplit("/", 1)[1] for key in lost if f"/r/{request_id}/inv/" in key}
    assert reductions == {"0.0.r", "0.1.r", "0.2.r", "0.r"}, lost
