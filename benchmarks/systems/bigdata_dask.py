"""Dask as a compared system: a distributed LocalCluster of two worker processes with one
thread each, and a bag read with dask.bag.read_text(blocksize=...), as many partitions as
splits. Each partition is counted (or indexed) whole, and Bag.reduction merges the
partitions' results in a tree, as Bag.frequencies() and foldby() do.

The workers have no memory limit (memory_limit=0): Dask estimates a dict's size from 10 of
its values, and an index's id lists are Zipf-skewed, so the estimate of the 1 GB index was
off by tens of GiB, different each run, and in one run of two the default limit (half the
machine's memory a worker) made Dask refuse the final merge with a MemoryError. Moving a
big dict of lists between processes is Dask's slow spot here: it serializes collections
element by element (dask/distributed#6368).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from benchmarks import bigdata_jobs as jobs
from benchmarks import bigdata_splits as splits

TIMEOUT_S = 3600


class DaskBag:
    name = "dask"

    def __init__(self, options):
        self.options = options
        self.cluster = self.client = None

    def describe(self) -> str:
        import dask
        return (f"Dask {dask.__version__} bag, LocalCluster(n_workers={self.options.processes}, "
                f"threads_per_worker=1, processes=True, memory_limit=0)")

    def start(self, base: Path) -> None:
        from dask.distributed import Client, LocalCluster
        self.cluster = LocalCluster(n_workers=self.options.processes, threads_per_worker=1,
                                    processes=True, memory_limit=0, dashboard_address=None,
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
        # Dask makes size // blocksize blocks (at least blocksize each): as many as the splits
        count = len(splits.ranges(os.path.getsize(path), self.options.split_bytes))
        lines = dask.bag.read_text(path, blocksize=os.path.getsize(path) // count)
        if job == "wordcount":
            bag = lines.reduction(jobs.count_lines, jobs.merge_counts)
        else:
            bag = lines.reduction(jobs.index_lines, jobs.merge_indexes)
        answer = self.client.compute(bag).result(timeout=TIMEOUT_S)
        facts = {"partitions": lines.npartitions}
        return (answer if job == "wordcount" else jobs.sort_ids(answer)), facts
