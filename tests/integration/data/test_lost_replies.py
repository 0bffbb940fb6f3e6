"""A data invocation whose completing transaction commits but whose reply is lost (etcd died
just after the commit; the client re-sends it and meets its own write): its files are the
ones etcd references, so they must stay. Workers run with tests/support/lost_replies on
PYTHONPATH, which loses the first reply to every split's and partition's completion."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mr.kv import entities
from mr.kv.models import Job, Step, Workflow
from tests.integration.data.conftest import HANDLERS
from tests.integration.data.test_data_failures import start
from tests.integration.data.test_data_jobs import all_pairs, write_corpus
from tests.support.cluster import start_cluster, unique

LOSSY = Path(__file__).resolve().parents[2] / "support" / "lost_replies"


@pytest.fixture(scope="module")
def lossy(etcd, tmp_path_factory):
    wf = unique("lossy")
    engine = start_cluster(tmp_path_factory.mktemp("lossy"), etcd.address, [wf],
                           {"PYTHONPATH": str(LOSSY), "LOSE_ETCD_REPLY": "/out/0"})
    engine.wf = wf
    engine.shared = Path(engine.env["MR_DATA_DIR"]) / "shared" / wf
    try:
        entities.create_workflow(engine.kv, Workflow(wf, "lost replies"))
        synced = engine.sync(wf, HANDLERS)
        assert synced.returncode == 0, synced.stderr
        entities.save(engine.kv, Step(wf, "wc", "words", "sum_counts", partitions=2))
        entities.save(engine.kv, Job(wf, "wc", "wc"))
        engine.start_workers(1)
        engine.start_web()
    except BaseException:
        engine.stop()
        raise
    yield engine
    engine.stop()


def test_a_commit_whose_reply_was_lost_keeps_its_files(lossy):
    expected: Counter = write_corpus(lossy.shared / "lost", seed=21)
    request_id = start(lossy, "wc", ["lost/*.txt"], split_bytes=4000)
    body = lossy.wait_ended(lossy.wf, request_id, timeout=90)
    assert body["state"] == "done", body
    assert dict(all_pairs(lossy, request_id, limit=500)) == dict(expected)
    log = Path(lossy.workers[0].log_path).read_text()
    lost = [line for line in log.splitlines() if line.startswith("lost_replies:")]
    assert any("/out/0.r/" in line for line in lost), log[-3000:]   # a partition's
    assert any("/out/0/" in line for line in lost), log[-3000:]     # and a split's
