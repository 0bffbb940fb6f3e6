"""What a reader compares after `python -m benchmarks.bigdata`: the table of every job, size
and system, mr's ratio against each peer, the memory and CPU time of each system's processes,
and the goals of the big-data comparison, judged."""
from __future__ import annotations

OURS = "mr"
WORKER = "worker"  # mr's workers are labelled worker1, worker2, ...
NAME_WIDTH = 14    # the longest system name, spark-textbook


def measured(rows: list[dict]) -> list[dict]:
    """The rows that timed a job (no warm-up, no failure before the timing)."""
    return [r for r in rows if not r.get("warm") and "seconds" in r]


def _find(rows: list[dict], system: str, job: str, size: int) -> dict | None:
    return next((r for r in measured(rows) if r["system"] == system and r["job"] == job
                 and r["size_mb"] == size), None)


def worker_peaks(row: dict) -> list[float]:
    """Peak RSS of each mr worker during the row's job, in MiB: the worker process with its
    data processes (their summed RSS), or the process alone in runs recorded before that."""
    usage = row.get("usage", {})
    trees = [mib for name, mib in usage.get("trees_mib", {}).items() if name.startswith(WORKER)]
    return trees or [p["peak_mib"] for p in usage.get("processes", [])
                     if p["name"].startswith(WORKER)]


def ratios(rows: list[dict]) -> list[dict]:
    """mr's throughput over each peer's, per job and size (> 1: mr ahead)."""
    found = []
    for row in measured(rows):
        if row["system"] == OURS:
            continue
        ours = _find(rows, OURS, row["job"], row["size_mb"])
        if ours is not None:
            found.append({"job": row["job"], "size_mb": row["size_mb"], "peer": row["system"],
                          "ratio": round(ours["mb_per_s"] / row["mb_per_s"], 2)})
    return found


COLUMNS = [  # header, width, cell
    ("job", 9, lambda r, x: r["job"]),
    ("MB", 5, lambda r, x: f"{r['size_mb']:,}"),
    ("system", NAME_WIDTH, lambda r, x: r["system"]),
    ("seconds", 8, lambda r, x: f"{r['seconds']:,.2f}"),
    ("MB/s", 7, lambda r, x: f"{r['mb_per_s']:,.1f}"),
    ("mr ahead", 8, lambda r, x: f"{x:.2f}x" if x else "-"),
    ("CPU s", 7, lambda r, x: f"{r['usage']['cpu_s']:,.1f}"),
    ("max proc MiB", 12, lambda r, x: f"{r['usage']['max_process_mib']:,.0f}"),
    ("all MiB", 8, lambda r, x: f"{r['usage']['total_mib']:,.0f}"),
    ("etcd props", 10, lambda r, x: _opt(r, "etcd_proposals", "{:,}")),
    ("props/split", 11, lambda r, x: f"{r['etcd_proposals'] / r['splits']:.2f}"
     if "etcd_proposals" in r else "-"),
    ("etcd WAL KiB", 12, lambda r, x: f"{r['etcd_wal_bytes'] / 1024:,.0f}"
     if "etcd_wal_bytes" in r else "-"),
    ("workers' peak MiB", 17, lambda r, x: " ".join(f"{p:,.0f}" for p in worker_peaks(r))
     or "-"),
]


def _opt(row: dict, key: str, fmt: str) -> str:
    return fmt.format(row[key]) if key in row else "-"


def table(rows: list[dict]) -> str:
    ahead = {(r["job"], r["size_mb"], r["peer"]): r["ratio"] for r in ratios(rows)}
    lines = [" ".join(f"{h:<{w}}" if i < 3 else f"{h:>{w}}"
                      for i, (h, w, _c) in enumerate(COLUMNS))]
    for row in rows:
        if row.get("warm") and "error" not in row:
            continue
        if "seconds" not in row:
            lines.append(f"{row['job']:<9} {row['size_mb']:<5,} {row['system']:<{NAME_WIDTH}} "
                         f"ERROR {row.get('error', 'did not run')}")
            continue
        x = ahead.get((row["job"], row["size_mb"], row["system"]))
        lines.append(" ".join(f"{c(row, x):<{w}}" if i < 3 else f"{c(row, x):>{w}}"
                              for i, (_h, w, c) in enumerate(COLUMNS)))
        if "error" in row:
            lines.append(f"    ERROR {row['error']}")
    return "\n".join(lines)


def usage_table(rows: list[dict], top: int = 5) -> str:
    """The largest processes of each run: peak RSS in MiB / CPU seconds."""
    lines = []
    for row in measured(rows):
        processes = row["usage"]["processes"]
        shown = ", ".join(f"{p['name']} {p['peak_mib']:,.0f}/{p['cpu_s']:,.1f}"
                          for p in processes[:top])
        more = f", {len(processes) - top} more" if len(processes) > top else ""
        lines.append(f"{row['job']:<9} {row['size_mb']:<5,} {row['system']:<{NAME_WIDTH}} "
                     f"{shown}{more}")
    return "\n".join(lines)


def goals(rows: list[dict]) -> list[dict]:
    """Each goal this run can judge, at the largest size it ran (the goals name 1 GB)."""
    judged: list[dict] = []

    def add(goal: str, value: float, met: bool, unit: str = "x") -> None:
        judged.append({"goal": goal, "measured": f"{value:,.2f}{unit}", "met": met})

    ours = [r for r in measured(rows) if r["system"] == OURS]
    wanted = {"wordcount": {"ray": 1.0, "spark": 3.0, "spark-textbook": 3.0, "plain": 1.7},
              "index": {"spark": 1.5, "dask": 1.0}}
    for job, peers in wanted.items():
        sizes = sorted(r["size_mb"] for r in ours if r["job"] == job)
        if not sizes:
            continue
        largest = sizes[-1]
        for r in ratios(rows):
            if r["job"] == job and r["size_mb"] == largest and r["peer"] in peers:
                want = peers[r["peer"]]
                add(f"{job} {largest} MB: mr >= {want:g}x {r['peer']}", r["ratio"],
                    r["ratio"] >= want)
        small, large = _find(rows, OURS, job, sizes[0]), _find(rows, OURS, job, largest)
        if len(sizes) > 1:
            flat = large["mb_per_s"] / small["mb_per_s"]
            add(f"{job}: mr MB/s at {largest} MB >= 90% of at {sizes[0]} MB", flat * 100,
                flat >= 0.9, "%")
        peaks = worker_peaks(large)
        if peaks:
            add(f"{job} {largest} MB: every mr worker's peak RSS <= 512 MiB", max(peaks),
                max(peaks) <= 512, " MiB")
        if len(sizes) > 1 and peaks and worker_peaks(_find(rows, OURS, job, sizes[-2])):
            before = max(worker_peaks(_find(rows, OURS, job, sizes[-2])))
            add(f"{job}: mr workers' peak RSS at {largest} MB <= 1.25x at {sizes[-2]} MB "
                f"({before:,.0f} -> {max(peaks):,.0f} MiB)", max(peaks) / before,
                max(peaks) / before <= 1.25)
        if len(sizes) > 1 and "etcd_proposals" in large and large["splits"] > small["splits"]:
            extra = ((large["etcd_proposals"] - small["etcd_proposals"])
                     / (large["splits"] - small["splits"]))
            add(f"{job}: etcd proposals per split <= 1, counted from {sizes[0]} to {largest} "
                f"MB (each split beyond the request's fixed "
                f"{small['etcd_proposals'] - extra * small['splits']:,.0f})", extra,
                extra <= 1, "")
        if len(sizes) > 1 and "etcd_wal_bytes" in large:
            per_split = [r["etcd_wal_bytes"] / r["splits"] for r in (small, large)]
            add(f"{job}: etcd bytes written per split at {largest} MB <= 1.25x at {sizes[0]} "
                f"MB ({per_split[0] / 1024:,.1f} -> {per_split[1] / 1024:,.1f} KiB: they grow "
                f"with the splits, not the data)", per_split[1] / per_split[0],
                per_split[1] / per_split[0] <= 1.25)
    counted = [r for r in ours if "etcd_proposals" in r]
    if counted:
        worst = max(counted, key=lambda r: r["etcd_proposals"] / r["splits"])
        value = worst["etcd_proposals"] / worst["splits"]
        add(f"etcd proposals per split <= 1, the request's fixed ones included (worst: "
            f"{worst['job']} {worst['size_mb']} MB)",
            value, value <= 1, "")
    return judged


def goal_table(judged: list[dict]) -> str:
    return "\n".join(f"{'met    ' if g['met'] else 'NOT met'}  {g['measured']:>10}  {g['goal']}"
                     for g in judged)


def ratio_table(found: list[dict]) -> str:
    lines = [f"{'job':<9} {'MB':>5}  {'vs':<{NAME_WIDTH}} {'mr ahead by':>11}"]
    lines += [f"{r['job']:<9} {r['size_mb']:>5,}  {r['peer']:<{NAME_WIDTH}} {r['ratio']:>10.2f}x"
              for r in found]
    return "\n".join(lines)
