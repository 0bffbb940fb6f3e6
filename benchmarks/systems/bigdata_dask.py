"""Dask as a compared system: a distributed LocalCluster of two worker processes with one
thread each, and a bag read with dask.bag.read_text(blocksize=split size), so a partition is
a split. Each partition is counted (or indexed) whole, and Bag.reduction merges the
partitions' results in a tree, as Bag.frequencies() and foldby() do."""
from __future__ import annotations

import logging
from pathlib import Path

from benchmarks import bigdata_jobs as jobs

TIMEOUT_S = 3600


class DaskBag:
    name = "dask"

    def __init__(self, options):
        self.options = options
        self.cluster = self.client = None

    def describe(self) -> str:
        import dask
        return (f"Dask {dask.__version__} bag, LocalCluster(n_workers={self.options.processes}, "
                f"threads_per_worker=1, processes=True)")

    def start(self, base: Path) -> None:
        from dask.distributed import Client, LocalCluster
        self.cluster = LocalCluster(n_workers=self.options.processes, threads_per_worker=1,
                                    processes=True, dashboard_address=None,
                                    silence_logs=logging.ERROR,
                                    local_directory=str(base / "dask"))
        self.client = Client(self.cluster)
        self.client.wait_for_workers(self.options.processes, timeout=60)

    def stop(self) -> None:
        for closable in (self.client, self.cluster):
            if closable is not None:
                closable.close()
        self.client = self.cluster = None

    def counters(self) -> dict:
        return {}

    def labels(self) -> dict[int, str]:
        return {}

    def run(self, job: str, path: str) -> tuple[dict, dict]:
        import dask.bag
        lines = dask.bag.read_text(path, blocksize=self.options.split_bytes)
        if job == "wordcount":
            bag = lines.reduction(jobs.count_lines, jobs.merge_counts)
        else:
            bag = lines.reduction(jobs.index_lines, jobs.merge_indexes)
        answer = self.client.compute(bag).result(timeout=TIMEOUT_S)
        return (answer if job == "wordcount" else jobs.sort_ids(answer)), {}
