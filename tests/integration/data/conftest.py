"""A cluster of real processes for data jobs: two workers reading input files from the
workflow's shared filesystem, a short NSQ message timeout (so a killed worker's split comes
back quickly), cleanup on (so a done request's shuffle files must be gone)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mr.kv import entities
from mr.kv.models import Job, Step, Workflow
from tests.support.cluster import start_cluster, unique

HANDLERS = Path(__file__).parent / "handlers"
MSG_TIMEOUT_S = 3
CLAIM_AFTER_S = 4   # MR_DATA_CLAIM_AFTER_S: a held split is claimed within a test's patience

# step: (mapper, combiner, reducer, partitions)
STEPS = {"wc": ("words", None, "sum_counts", 3),
         "wc_one": ("words", None, "sum_counts", 1),
         "wc_many": ("words", None, "sum_counts", 16),
         "wc_bulk": ("words_bulk", "sum_combiner", "sum_counts", 2),
         "index": ("index_docs", None, "sorted_ids", 4),
         "held_map": ("held_words", None, "sum_counts", 2),
         "held_reduce": ("words", None, "held_sum", 2),
         "spin": ("spin_words", None, "sum_counts", 1),
         "loud": ("loud_words", None, "sum_counts", 1),
         "wc_here": ("words_here", "sum_combiner", "sum_counts", 2)}


@pytest.fixture(scope="package")
def data(etcd, tmp_path_factory):
    wf = unique("data")
    engine = start_cluster(tmp_path_factory.mktemp("data"), etcd.address, [wf],
                           {"MR_MSG_TIMEOUT_S": str(MSG_TIMEOUT_S),
                            "MR_DATA_CLAIM_AFTER_S": str(CLAIM_AFTER_S)})
    engine.wf = wf
    engine.shared = Path(engine.env["MR_DATA_DIR"]) / "shared" / wf
    try:
        entities.create_workflow(engine.kv, Workflow(wf, "data jobs"))
        synced = engine.sync(wf, HANDLERS)
        assert synced.returncode == 0, synced.stderr
        for name, (mapper, combiner, reducer, partitions) in STEPS.items():
            entities.save(engine.kv, Step(wf, name, mapper, reducer, combiner,
                                          partitions=partitions))
            entities.save(engine.kv, Job(wf, name, name))
        entities.save(engine.kv, Job(wf, "wc_file", "wc", result_writer="file"))
        entities.save(engine.kv, Step(wf, "plain", "echo", "sum_counts"))
        entities.save(engine.kv, Job(wf, "plain", "plain"))
        engine.start_workers(2)
        engine.start_web()
    except BaseException:
        engine.stop()
        raise
    yield engine
    engine.stop()
