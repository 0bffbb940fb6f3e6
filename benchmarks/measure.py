"""What the benchmarks read off the running processes: etcd's and the broker's own counters,
percentiles, peak resident memory from /proc (no extra package needed), and the wall time of
clients released together."""
from __future__ import annotations

import json
import math
import os
import platform
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path


def etcd_metric(address: str, name: str) -> float:
    """One unlabelled sample of etcd's own /metrics (Prometheus text)."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise RuntimeError(f"etcd /metrics has no {name}")


def etcd_proposals(address: str) -> int:
    """Proposals etcd committed since it started (each one is a write it fsynced)."""
    return int(etcd_metric(address, "etcd_server_proposals_committed_total"))


def broker_messages(http_address: str) -> int:
    """Messages published to every topic of the broker since it started."""
    with urllib.request.urlopen(f"http://{http_address}/stats?format=json", timeout=5) as reply:
        stats = json.load(reply)
    return sum(t["message_count"] for t in stats["topics"])


def released_together(clients: list[Callable[[threading.Barrier], None]],
                      timeout: float | None = None) -> float:
    """Run each client in a thread of its own, given a barrier to wait on once it is ready;
    the seconds from the moment all are released until the last one ends."""
    release = threading.Barrier(len(clients) + 1, timeout=timeout)
    threads = [threading.Thread(target=client, args=(release,), name=f"client-{n}", daemon=True)
               for n, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    release.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 200 values is the 198th smallest)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered) - 1e-9)  # 0.99 * 200 is 198.00000000000003
    return ordered[min(max(rank, 1), len(ordered)) - 1]


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> tuple[int, int] | None:
    """User + system CPU time the process has used, and that of its children it has waited
    for, in clock ticks (None once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def cpu_by_process(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds each named process and all its descendants have used so far, the children
    they waited for included, so that a process which ended meanwhile (a data process, a pool
    worker) still counts through its parent: take the difference over a workload."""
    spent = {}
    for name, root in roots.items():
        ticks = [cpu_ticks(pid) for pid in [root, *descendants(root)]]
        spent[name] = sum(own + waited for own, waited in filter(None, ticks)) / TICKS
    return spent


def children(pid: int) -> list[int]:
    """Every descendant of `pid` (a Celery worker's pool processes)."""
    return list(descendants(pid))


def descendants(pid: int) -> dict[int, int]:
    """Every descendant of `pid`, each with its parent's pid."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child in parents.get(parent, []):
            found[child] = parent
            todo.append(child)
    return found


def _status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss(pids: list[int]) -> bool:
    """Start each process's peak-RSS count afresh (Linux clear_refs 5); False if refused."""
    ok = True
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


def peak_rss_mib(pids: list[int]) -> float | None:
    """The largest peak RSS (VmHWM) among `pids`, in MiB."""
    peaks = [kib for kib in (_status_kib(p, "VmHWM") for p in pids) if kib is not None]
    return round(max(peaks) / 1024, 1) if peaks else None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    """Where the numbers were taken."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "system": platform.platform(),
            "python": platform.python_version(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                / 2 ** 30, 1)}
