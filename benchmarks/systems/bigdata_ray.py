"""Ray as a compared system: ray.init(num_cpus=2) on this machine, one task per split (the
engine's byte ranges; a task owns the lines that start in its range), each returning its
split's counts or index; the driver merges the results as the tasks finish."""
from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

from benchmarks import bigdata_jobs as jobs
from benchmarks import bigdata_splits as splits


def count_range(path: str, start: int, end: int) -> dict[str, int]:
    return jobs.count_blocks(splits.read_blocks(path, start, end))


def index_range(path: str, start: int, end: int) -> dict[str, list[int]]:
    return jobs.index_lines(line for block in splits.read_blocks(path, start, end)
                            for line in block.splitlines())


class RayPeer:
    name = "ray"

    def __init__(self, options):
        self.options = options
        self.tasks: dict = {}

    def describe(self) -> str:
        import ray
        return (f"Ray {ray.__version__}, ray.init(num_cpus={self.options.processes}), one task "
                f"per split, driver merges")

    def start(self, base: Path) -> None:
        import ray
        ray.init(num_cpus=self.options.processes, include_dashboard=False,
                 logging_level=logging.ERROR, log_to_driver=False)
        self.tasks = {"wordcount": ray.remote(count_range), "index": ray.remote(index_range)}

    def stop(self) -> None:
        import ray
        ray.shutdown()

    def counters(self) -> dict:
        return {}

    def labels(self) -> dict[int, str]:
        return {}

    def run(self, job: str, path: str) -> tuple[dict, dict]:
        import ray
        task = self.tasks[job]
        pending = [task.remote(path, start, end) for start, end
                   in splits.ranges(os.path.getsize(path), self.options.split_bytes)]
        facts = {"partitions": len(pending)}
        counts, index = Counter(), {}
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            if job == "wordcount":
                counts.update(ray.get(done[0]))
            else:
                jobs.add_index(index, ray.get(done[0]))
        return (counts if job == "wordcount" else jobs.sort_ids(index)), facts
