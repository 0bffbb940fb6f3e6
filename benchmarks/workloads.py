"""The compared workloads: what each computes, its expected answer, and the plain functions the
peers (Celery, Dask) run as tasks.

Our engine runs the same computation through handler files (handlers/numbers,
handlers/wordcount, benchmarks/handlers/bench); the counting rule is the engine's own
(mr.examples.count_locally), so every system's word count can be checked equal.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mr import examples

MIDS = 10              # mid-level mappers of the nested workload
LATENCY_REQUESTS = 200
LOAD_CLIENTS = 16      # clients of the latency-under-load workload, each one request at a time
LOAD_REQUESTS = 400    # its requests, all clients together
WORD_CHUNKS = 200


@dataclass(frozen=True)
class Workload:
    """One row of the table: `kind` names the system method that runs it."""
    kind: str          # fanout | nested | latency | load | wordcount
    parts: int         # leaves (fanout, nested), chunks (wordcount), 1 (latency, load)
    clients: int = 1   # load: clients sending one-part requests at once
    series: int = 0    # latency, load: which of several series of requests (0: the only one)

    @property
    def label(self) -> str:
        if self.kind in ("fanout", "nested"):
            return f"{self.kind} {self.parts}"
        if self.kind == "wordcount":
            return f"wordcount {self.parts} chunks"
        name = "latency 1 part" if self.kind == "latency" else f"latency {self.clients} clients"
        return f"{name} #{self.series}" if self.series else name

    def invocations(self) -> int:
        """Our engine's invocations for one run (root, children, reduces)."""
        if self.kind == "fanout":
            return self.parts + 2
        if self.kind == "nested":
            return 1 + MIDS + self.parts + MIDS + 1
        if self.kind == "wordcount":
            return self.parts + 2
        return 1


def plan(parts: list[int], kinds: list[str], series: int = 1,
         clients: int = LOAD_CLIENTS) -> list[Workload]:
    """The rows to run; the latency workloads in `series` series each (numbered when more
    than one), so that each series runs on every system in turn before the next."""
    rows = []
    for kind in ("fanout", "nested"):
        if kind in kinds:
            rows += [Workload(kind, n) for n in parts]
    for number in range(1, series + 1):
        numbered = number if series > 1 else 0
        if "latency" in kinds:
            rows.append(Workload("latency", 1, series=numbered))
        if "load" in kinds:
            rows.append(Workload("load", 1, clients, numbered))
    if "wordcount" in kinds:
        rows.append(Workload("wordcount", WORD_CHUNKS))
    return rows


# --- expected answers --------------------------------------------------------------------
def sum_of_squares(n: int) -> int:
    return (n - 1) * n * (2 * n - 1) // 6


def mid_ranges(n: int, mids: int = MIDS) -> list[tuple[int, int]]:
    """The same split benchmarks/handlers/bench/nest_root.py makes."""
    return [(m * n // mids, (m + 1) * n // mids) for m in range(mids)]


def chunks(count: int = WORD_CHUNKS, directory: Path = examples.CORPUS_DIR) -> list[str]:
    """The corpus cut into `count` chunks of whole lines (as equal as lines allow)."""
    lines = examples.corpus(directory).splitlines()
    if len(lines) < count:
        raise ValueError(f"the corpus under {directory} has {len(lines)} lines; "
                         f"{count} chunks need at least as many")
    bounds = [i * len(lines) // count for i in range(count + 1)]
    return ["\n".join(lines[bounds[i]:bounds[i + 1]]) for i in range(count)]


def expected_words(texts: list[str]) -> dict[str, int]:
    return examples.count_locally("\n".join(texts))


# --- the peers' task bodies (importable by Celery and Dask worker processes) ---------------
def square(i: int) -> int:
    return i * i


def total(values: list[int]) -> int:
    return sum(values)


def count_chunk(text: str) -> dict[str, int]:
    return examples.count_locally(text)


def merge_counts(counts: list[dict[str, int]]) -> dict[str, int]:
    merged: Counter = Counter()
    for one in counts:
        merged.update(one)
    return dict(merged)
