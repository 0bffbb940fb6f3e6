"""A data job while its etcd is down, on real processes: splits held mid-map (or partitions
mid-reduce) are let go while etcd is stopped, so their commits fail past the client's timeout;
etcd then starts again under the same data directory. The messages come back, the runs are
done again, and the request ends with the exact result and no shuffle files left."""
from __future__ import annotations

import time

import pytest

from mr.cluster import wait_for
from tests.integration.data.conftest import CLAIM_AFTER_S, MSG_TIMEOUT_S, data_cluster
from tests.integration.data.test_data_failures import finish, held, start
from tests.integration.data.test_data_jobs import write_corpus
from tests.support import chaos
from tests.support.etcd import restartable_etcd

ETCD_TIMEOUT_S = 3
STEPS = {"held_map": ("held_words", None, "sum_counts", 2),
         "held_reduce": ("words", None, "held_sum", 2)}


@pytest.fixture(scope="module")
def own_etcd(tmp_path_factory):
    with restartable_etcd(tmp_path_factory.mktemp("data-etcd")) as server:
        yield server


@pytest.fixture(scope="module")
def restarted(own_etcd, tmp_path_factory):
    with data_cluster(tmp_path_factory.mktemp("restarts"), own_etcd.address, "restarts",
                      {"MR_MSG_TIMEOUT_S": str(MSG_TIMEOUT_S),
                       "MR_DATA_CLAIM_AFTER_S": str(CLAIM_AFTER_S),
                       "MR_ETCD_TIMEOUT_S": str(ETCD_TIMEOUT_S)}, STEPS, 2) as engine:
        yield engine


@pytest.mark.parametrize("job, kind, go", [("held_map", "map", "go"),
                                             ("held_reduce", "reduce", "go-reduce")])
def test_etcd_restart_mid_map_and_mid_reduce(restarted, own_etcd, job, kind, go):
    folder = restarted.shared / "held"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    expected = write_corpus(restarted.shared / f"restart_{job}", seed=len(job))
    request_id = start(restarted, job, [f"restart_{job}/*.txt"], split_bytes=2000)
    wait_for(lambda: len(held(restarted, kind)) >= 2, timeout=30,
             message=f"{kind} handlers running")
    chaos.stop_service(own_etcd)
    stopped = time.monotonic()
    (folder / go).touch()   # they finish while etcd is away: their commits fail
    # down past the workers' etcd timeout, so those commits fail for real
    time.sleep(max(0.0, ETCD_TIMEOUT_S + 1 - (time.monotonic() - stopped)))
    own_etcd.start()   # same data directory, same ports
    finish(restarted, request_id, expected)
