"""What a system's processes use during one job: peak resident memory and CPU time.

A system's processes are its driver and every descendant (JVM, raylet, Dask workers, etcd,
mr workers ...). Their kernel-kept memory peaks (VmHWM) are reset when the job starts and
sampled from a thread until it ends, so a process that exits mid-job still counts; the sum of
the current RSS of all of them is sampled too, for the system's peak total (shared pages, such
as Ray's object store, count in every process that maps them). A labelled process (an mr
worker) also gets the peak of the summed RSS of it and its descendants (its data processes),
sampled every INTERVAL_S; a descendant's name starts with its labelled ancestor's.

CPU time (user + system) is summed over the processes from the job's start: unlike the job's
wall time it hardly moves when something else shares the machine, so it compares the systems'
work even on a busy host. A process that ends between two samples is counted whole through
its parent's CPU time of waited-for children, not through the samples of it.
"""
from __future__ import annotations

import threading
from pathlib import Path

from benchmarks import measure
from benchmarks.measure import TICKS, cpu_ticks

INTERVAL_S = 0.2


def status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in KiB ({} once it has gone)."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                found[line[:5]] = int(line.split()[1])
    except OSError:
        return {}
    return found


def describe(pid: int) -> str:
    """A short name: `python -m module` is the module, anything else its command name."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"
    if comm.startswith("python") and b"-m" in argv[:-1]:
        return argv[argv.index(b"-m") + 1].decode(errors="replace")
    return comm


class TreeSampler:
    """with TreeSampler(root, labels) as usage: ...; then usage.summary()."""

    def __init__(self, root: int, labels: dict[int, str] | None = None):
        self.root, self.labels = root, dict(labels or {})
        self.peaks: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.first_ticks: dict[int, tuple[int, int]] = {}
        self.last_ticks: dict[int, tuple[int, int]] = {}
        self.alive: set[int] = set()
        self.total_kib = 0
        self.tree_kib: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="usage-sampler", daemon=True)

    def pids(self) -> list[int]:
        return [self.root, *measure.children(self.root)]

    def _owners(self) -> dict[int, str]:
        """Each process of the tree, with the label of its nearest labelled ancestor ("")."""
        parents = measure.descendants(self.root)
        owners = {self.root: self.labels.get(self.root, "")}

        def owner(pid: int) -> str:
            if pid not in owners:
                owners[pid] = self.labels.get(pid) or owner(parents[pid])
            return owners[pid]
        for pid in parents:
            owner(pid)
        return owners

    def __enter__(self) -> TreeSampler:
        measure.reset_peak_rss(self.pids())
        self.sample(starting=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self.sample()

    def sample(self, starting: bool = False) -> None:
        total, trees, alive = 0, {}, set()
        for pid, owner in self._owners().items():
            status, ticks = status_kib(pid), cpu_ticks(pid)
            if not status or ticks is None:
                continue
            alive.add(pid)
            total += status.get("VmRSS", 0)
            if owner:
                trees[owner] = trees.get(owner, 0) + status.get("VmRSS", 0)
            self.peaks[pid] = max(self.peaks.get(pid, 0), status.get("VmHWM", 0))
            self.first_ticks.setdefault(pid, ticks if starting else (0, 0))
            self.last_ticks[pid] = ticks
            if pid not in self.names:
                label = self.labels.get(pid)
                self.names[pid] = label or (f"{owner}:{describe(pid)}" if owner
                                            else describe(pid))
        self.alive = alive
        self.total_kib = max(self.total_kib, total)
        for owner, kib in trees.items():
            self.tree_kib[owner] = max(self.tree_kib.get(owner, 0), kib)

    def summary(self) -> dict:
        """Each process's peak (largest first), the largest, the peak of their sum, each
        labelled process's peak with its descendants, and the CPU seconds all of them used."""
        used = {pid: (self.last_ticks[pid][0] - self.first_ticks[pid][0]) / TICKS
                for pid in self.last_ticks}
        waited = sum(self.last_ticks[pid][1] - self.first_ticks[pid][1]
                     for pid in self.alive) / TICKS
        ended = sum(used[pid] for pid in used if pid not in self.alive)
        processes = sorted(({"pid": pid, "name": self.names[pid],
                             "peak_mib": round(kib / 1024, 1), "cpu_s": round(used[pid], 2)}
                            for pid, kib in self.peaks.items()),
                           key=lambda p: -p["peak_mib"])
        return {"processes": processes,
                "max_process_mib": processes[0]["peak_mib"] if processes else None,
                "total_mib": round(self.total_kib / 1024, 1),
                "trees_mib": {owner: round(kib / 1024, 1)
                              for owner, kib in sorted(self.tree_kib.items())},
                "cpu_s": round(sum(used.values()) - ended + waited, 2)}
