"""Clusters for the failure tests: their own etcd (tests restart it), short NSQ timeouts.

Every test here kills, freezes or restarts real processes; the job they run is a two-level
fan-out ("tree": root -> groups -> leaves) whose correct result is known in advance, with a
reducer that logs each run with its pid.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from mr.kv import entities, keys
from mr.kv.models import Job, Step, Workflow
from tests.support import chaos
from tests.support.cluster import EngineCluster, start_cluster, unique
from tests.support.etcd import restartable_etcd

HANDLERS = Path(__file__).parent / "handlers"
SHARED = ("pass_through",)  # from tests/support/handlers/
MSG_TIMEOUT_S = 3   # so a message held by a frozen worker comes back quickly
ETCD_TIMEOUT_S = 3  # so an etcd outage makes calls fail (and their messages come back)


def tree_total(groups: int, leaves: int) -> int:
    return sum(100 * g + j for g in range(groups) for j in range(leaves))


def tree_invocations(groups: int, leaves: int) -> int:
    """Reducer runs of one tree request: every leaf, every group and the root."""
    return groups * leaves + groups + 1


def tally_log(engine: EngineCluster) -> Path:
    return Path(engine.env["MR_DATA_DIR"]) / "tally_runs.log"


GROUPS, LEAVES, SLEEP = 4, 6, 0.15


def start_tree(engine, groups: int = GROUPS, leaves: int = LEAVES, sleep: float = SLEEP) -> str:
    reply = engine.post(engine.wf, "tree", {"groups": groups, "leaves": leaves, "sleep": sleep},
                        blocking=False)
    assert reply.status_code == 202, reply.text
    return reply.json()["request_id"]


def assert_tree_done(engine, request_id: str, suspects: set[int], groups: int = GROUPS,
                     leaves: int = LEAVES, timeout: float = 60,
                     duplicates: bool = False) -> None:
    """Correct result, every invocation reduced, no healthy process ran one twice (with
    `duplicates` delivered, a leaf may have), no leftovers."""
    body = engine.wait_ended(engine.wf, request_id, timeout=timeout)
    assert body["state"] == "done", body
    assert body["result"] == [["total", tree_total(groups, leaves)]]
    runs = chaos.runs_of(tally_log(engine), request_id)
    assert len(runs) == tree_invocations(groups, leaves)
    may_repeat = chaos.is_leaf if duplicates else (lambda iid: False)
    assert chaos.extra_runs(runs, suspects, may_repeat) == {}
    assert engine.kv.count(keys.request_data(engine.wf, request_id)) == 0


def alive_workers(engine) -> list:
    return [w for w in engine.workers if w.alive()]


def progress(engine, request_id: str) -> int:
    return len(chaos.runs_of(tally_log(engine), request_id))


BODY_TIMEOUT_S = 2   # a POST whose body stalls is answered 408 this soon


def build(tmp: Path, etcd_address: str, workers: int = 2,
          extra_env: dict[str, str] | None = None) -> EngineCluster:
    """A started cluster (broker, workers, gunicorn) serving one workflow of the tree job."""
    wf = unique("rel")
    env = {"MR_MSG_TIMEOUT_S": str(MSG_TIMEOUT_S), "MR_ETCD_TIMEOUT_S": str(ETCD_TIMEOUT_S),
           "MR_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S), **(extra_env or {})}
    engine = start_cluster(tmp, etcd_address, [wf], env)
    engine.wf = wf
    try:
        entities.create_workflow(engine.kv, Workflow(wf, "reliability"))
        synced = engine.sync(wf, HANDLERS, shared=SHARED)
        assert synced.returncode == 0, synced.stderr
        for step in [Step(wf, "root", "tree_root", "tally"),
                     Step(wf, "group", "tree_group", "tally"),
                     Step(wf, "leaf", "tree_leaf", "tally"),
                     Step(wf, "long", "long_run", "tally"),
                     Step(wf, "bad_pairs", "bad_pairs", "tally"),
                     Step(wf, "unstorable", "unstorable", "pass_through"),
                     Step(wf, "to_nowhere", "to_nowhere", "tally"),
                     Step(wf, "held_sh", "held_sh", "pass_through")]:
            entities.save(engine.kv, step)
        for job in ("tree:root", "long:long", "bad_pairs:bad_pairs", "unstorable:unstorable",
                    "to_nowhere:to_nowhere", "held_sh:held_sh"):
            entities.save(engine.kv, Job(wf, *job.split(":")))
        engine.start_workers(workers)
        engine.start_web()
    except BaseException:
        engine.stop()
        raise
    return engine


@pytest.fixture(scope="package")
def own_etcd(tmp_path_factory):
    with restartable_etcd(tmp_path_factory.mktemp("rel-etcd")) as server:
        yield server


@pytest.fixture(scope="package")
def rel(own_etcd, tmp_path_factory):
    engine = build(tmp_path_factory.mktemp("rel"), own_etcd.address)
    yield engine
    engine.stop()
