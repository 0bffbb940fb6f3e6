"""One cluster for the request-tracking tests (MR_CLEANUP=0, short retention and stall)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mr.kv import entities
from mr.kv.models import Job, Step, Workflow
from tests.support.cluster import start_cluster, unique

HANDLERS = Path(__file__).parent / "handlers"
SHARED = ("total",)  # from tests/support/handlers/


@pytest.fixture(scope="package")
def engine(etcd, tmp_path_factory):
    wf = unique("track")
    engine = start_cluster(tmp_path_factory.mktemp("tracking"), etcd.address, [wf], extra_env={
        "MR_CLEANUP": "0", "MR_RETENTION_S": "2", "MR_FAILED_RETENTION_S": "3600",
        "MR_SWEEP_INTERVAL_S": "0.3", "MR_STALL_S": "2", "MR_METRICS_PORT": "0",
        "MR_MAX_DEPTH": "6"})
    kv = engine.kv
    entities.create_workflow(kv, Workflow(wf, "request tracking"))
    synced = engine.sync(wf, HANDLERS, shared=SHARED)
    assert synced.returncode == 0, synced.stderr
    for step in (Step(wf, "track_root", "track_root", "total"),
                 Step(wf, "track_mid", "track_mid", "total"),
                 Step(wf, "track_leaf", "track_leaf", "total"),
                 Step(wf, "track_loop", "track_loop", "total"),
                 Step(wf, "track_chatty", "track_chatty", "total"),
                 Step(wf, "track_streams", "track_streams", "total"),
                 Step(wf, "track_streams_sh", "track_streams_sh", "total")):
        entities.save(kv, step)
    entities.save(kv, Job(wf, "fan", "track_root"))
    entities.save(kv, Job(wf, "quick_timeout", "track_root", timeout_s=1))
    entities.save(kv, Job(wf, "loop", "track_loop"))
    entities.save(kv, Job(wf, "chatty", "track_chatty"))
    entities.save(kv, Job(wf, "streams", "track_streams"))
    entities.save(kv, Job(wf, "streams_sh", "track_streams_sh"))
    engine.start_workers(2)
    engine.start_web()
    engine.wf = wf
    yield engine
    engine.stop()
