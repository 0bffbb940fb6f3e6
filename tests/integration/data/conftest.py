"""A cluster of real processes for data jobs: two workers reading input files from the
workflow's shared filesystem, a short NSQ message timeout (so a killed worker's split comes
back quickly), cleanup on (so a done request's shuffle files must be gone)."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mr.kv import entities
from mr.kv.models import Job, Step, Workflow
from tests.support.cluster import EngineCluster, start_cluster, unique

HANDLERS = Path(__file__).parent / "handlers"
MSG_TIMEOUT_S = 3
CLAIM_AFTER_S = 4   # MR_DATA_CLAIM_AFTER_S: a held split is claimed within a test's patience

# step: (mapper, combiner, reducer, partitions)
STEPS = {"wc": ("words", None, "sum_counts", 3),
         "wc_one": ("words", None, "sum_counts", 1),
         "wc_many": ("words", None, "sum_counts", 16),
         "wc_bulk": ("words_bulk", "sum_combiner", "sum_counts", 2),
         "index": ("index_docs", None, "sorted_ids", 4),
         "index_streamed": ("index_split", None, "chained_ids", 2),
         "held_map": ("held_words", None, "sum_counts", 2),
         "held_reduce": ("words", None, "held_sum", 2),
         "held_or_failing": ("held_or_failing", None, "sum_counts", 1),
         "totals": ("totals", None, "sum_counts", 1),
         "tolerant": ("tolerant_words", None, "sum_counts", 2),
         "join": ("join_tag", None, "join_rows", 2),
         "spin": ("spin_words", None, "sum_counts", 1),
         "loud": ("loud_words", None, "sum_counts", 1),
         "wc_here": ("words_here", "sum_combiner", "sum_counts", 2),
         "script": ("main_script", None, "sum_counts", 1),
         "by_city": ("city_cents", None, "sum_counts", 2),
         "clean": ("clean_rows", None, None, None),          # map-only: no reducer
         "split_counts": ("words_bulk", None, None, None),
         "held_map_only": ("held_words", None, None, None),
         "shout": ("shout_lines", None, None, None)}


@contextlib.contextmanager
def data_cluster(tmp: Path, etcd_address: str, prefix: str, env: dict[str, str],
                 steps: dict[str, tuple], workers: int,
                 more: Callable[[str], tuple] = lambda wf: ()) -> Iterator[EngineCluster]:
    """A workflow of this folder's handlers with `steps` (each also a job of its name) and
    the definitions `more(workflow)`, `workers` workers and a front-end; stopped after."""
    wf = unique(prefix)
    engine = start_cluster(tmp, etcd_address, [wf], env)
    engine.wf = wf
    engine.shared = Path(engine.env["MR_DATA_DIR"]) / "shared" / wf
    try:
        entities.create_workflow(engine.kv, Workflow(wf, f"{prefix} tests"))
        synced = engine.sync(wf, HANDLERS)
        assert synced.returncode == 0, synced.stderr
        for name, (mapper, combiner, reducer, partitions) in steps.items():
            entities.save(engine.kv, Step(wf, name, mapper, reducer, combiner,
                                          partitions=partitions))
            entities.save(engine.kv, Job(wf, name, name))
        for definition in more(wf):
            entities.save(engine.kv, definition)
        engine.start_workers(workers)
        engine.start_web()
        yield engine
    finally:
        engine.stop()


def handler_tallies(body: dict) -> dict:
    """A request's tallies that its handlers made (ctx.tally)."""
    return {k: v for k, v in (body["tallies"] or {}).items() if not k.startswith("mr.")}


def engine_tallies(body: dict) -> dict:
    """The engine's own tallies of a data request (mr.engine.data_work)."""
    return {k: v for k, v in (body["tallies"] or {}).items() if k.startswith("mr.")}


@pytest.fixture(scope="package")
def data(etcd, tmp_path_factory):
    with data_cluster(tmp_path_factory.mktemp("data"), etcd.address, "data",
                      {"MR_MSG_TIMEOUT_S": str(MSG_TIMEOUT_S),
                       "MR_DATA_CLAIM_AFTER_S": str(CLAIM_AFTER_S)}, STEPS, 2,
                      more=lambda wf: (Job(wf, "wc_file", "wc", result_writer="file"),
                                       Step(wf, "plain", "echo", "sum_counts"),
                                       Job(wf, "plain", "plain"))) as engine:
        yield engine
