"""One plain Python process, the baseline every answer is checked against: it reads the file
once, front to back, in blocks of about 1 MiB of whole lines (wordcount: Counter.update of
each block's words) or line by line (index: one dict of id lists)."""
from __future__ import annotations

import os
import platform
from pathlib import Path

from benchmarks import bigdata_jobs as jobs
from benchmarks import bigdata_splits as splits


class Plain:
    name = "plain"

    def __init__(self, options):
        self.options = options

    def describe(self) -> str:
        return f"one Python {platform.python_version()} process, no parallelism"

    def start(self, base: Path) -> None:
        """Nothing to start: the benchmark's driver process is the system."""

    def stop(self) -> None:
        """Nothing to stop."""

    def counters(self) -> dict:
        return {}

    def labels(self) -> dict[int, str]:
        return {}

    def run(self, job: str, path: str) -> tuple[dict, dict]:
        if job == "wordcount":
            return jobs.count_blocks(splits.read_blocks(path, 0, os.path.getsize(path))), {}
        with open(path, "rb") as lines:
            return jobs.sort_ids(jobs.index_lines(lines)), {}
