"""A data invocation whose completing transaction commits but whose reply is lost (etcd died
just after the commit; the client re-sends it and meets its own write): its files are the
ones etcd references, so they must stay. Workers run with tests/support/lost_replies on
PYTHONPATH, which loses the first reply to every split's and partition's completion."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.integration.data.conftest import data_cluster
from tests.integration.data.test_data_failures import start
from tests.integration.data.test_data_jobs import all_pairs, write_corpus
from tests.support.lost_reply import losing_replies


@pytest.fixture(scope="module")
def lossy(etcd, tmp_path_factory):
    with data_cluster(tmp_path_factory.mktemp("lossy"), etcd.address, "lossy",
                      losing_replies("/out/0"),
                      {"wc": ("words", None, "sum_counts", 2)}, 1) as engine:
        yield engine


def test_a_commit_whose_reply_was_lost_keeps_its_files(lossy):
    expected: Counter = write_corpus(lossy.shared / "lost", seed=21)
    request_id = start(lossy, "wc", ["lost/*.txt"], split_bytes=4000)
    body = lossy.wait_ended(lossy.wf, request_id, timeout=90)
    assert body["state"] == "done", body
    assert dict(all_pairs(lossy, request_id, limit=500)) == dict(expected)
    log = "".join(Path(worker.log_path).read_text() for worker in lossy.workers)
    lost = [line for line in log.splitlines() if line.startswith("lost_replies:")]
    assert any("/out/0.r/" in line for line in lost), log[-3000:]   # a partition's
    assert any("/out/0/" in line for line in lost), log[-3000:]     # and a split's
