"""Dask distributed as a compared system: a LocalCluster of two worker processes with one
thread each (the scheduler runs in the benchmark process, as LocalCluster does), each workload
written as a user would: client.map over the parts, one submit that sums the futures.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from benchmarks import workloads

TIMEOUT_S = 900


class DaskPeer:
    name = "dask"

    def __init__(self, processes: int = 2):
        self.processes = processes
        self.cluster = None
        self.client = None

    def describe(self) -> str:
        import distributed
        return (f"Dask distributed {distributed.__version__}, LocalCluster n_workers="
                f"{self.processes}, threads_per_worker=1, processes=True")

    def start(self, base: Path) -> None:
        from dask.distributed import Client, LocalCluster

        self.cluster = LocalCluster(n_workers=self.processes, threads_per_worker=1,
                                    processes=True, dashboard_address=None,
                                    silence_logs=logging.ERROR,
                                    local_directory=str(base / "dask"))
        self.client = Client(self.cluster)
        self.client.wait_for_workers(self.processes, timeout=60)

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def worker_pids(self) -> list[int]:
        if self.client is None:
            return []
        return list(self.client.run(os.getpid).values())

    def named_processes(self) -> dict[str, int]:
        """The worker processes; the scheduler and the nannies run in the benchmark's own
        process, with the clients, and are not counted."""
        return {f"worker{n}": pid for n, pid in enumerate(self.worker_pids(), 1)}

    def counters(self) -> dict[str, int]:
        return {}

    # --- workloads -----------------------------------------------------------------------
    def _sum_of(self, futures: list):
        return self.client.submit(workloads.total, futures, pure=False)

    def fanout(self, n: int) -> int:
        parts = self.client.map(workloads.square, range(n), pure=False)
        return self._sum_of(parts).result(timeout=TIMEOUT_S)

    def nested(self, n: int) -> int:
        mids = [self._sum_of(self.client.map(workloads.square, range(low, high), pure=False))
                for low, high in workloads.mid_ranges(n)]
        return self._sum_of(mids).result(timeout=TIMEOUT_S)

    def single(self, i: int) -> int:
        return self.client.submit(workloads.square, i, pure=False).result(timeout=TIMEOUT_S)

    def wordcount(self, chunks: list[str]) -> dict[str, int]:
        counts = self.client.map(workloads.count_chunk, chunks, pure=False)
        return self.client.submit(workloads.merge_counts, counts, pure=False).result(
            timeout=TIMEOUT_S)
