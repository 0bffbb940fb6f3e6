"""Turn the rows of one run into what a reader compares: agreement of the answers, the table,
the ratios of this engine against each peer, and the performance goals: the small-task goals
(throughput against both peers, flat rates and memory, etcd writes per invocation) and the
latency goals (a one-part request at or under Celery's p50 and p99, alone and with clients
sending at once)."""
from __future__ import annotations

OURS = "mr"
LATENCY_KINDS = ("latency", "load")
THROUGHPUT = {"fanout": "parts_per_s", "nested": "parts_per_s", "wordcount": "chunks_per_s"}

COLUMNS = [  # (header, row key, width)
    ("workload", "workload", 24), ("system", "system", 7), ("runs", "runs", 4),
    ("parts/s", "parts_per_s", 9), ("chunks/s", "chunks_per_s", 9),
    ("req/s", "requests_per_s", 7), ("p50 ms", "p50_ms", 9),
    ("p99 ms", "p99_ms", 9), ("CPU ms/part", "cpu_ms_per_part", 11),
    ("etcd w/inv", "etcd_writes_per_invocation", 10),
    ("nsq/inv", "nsq_messages_per_invocation", 8), ("peak RSS MiB", "worker_peak_rss_mib", 12),
    ("load", "load_1m", 5),  # the machine's 1-minute load average as the row started
]


def disagreements(rows: list[dict]) -> list[str]:
    """Workloads whose systems gave different answers (each was already checked on its own)."""
    problems = []
    for label in dict.fromkeys(r["workload"] for r in rows):
        answers = {r["system"]: r["answer"] for r in rows
                   if r["workload"] == label and "answer" in r}
        if len(set(answers.values())) > 1:
            problems.append(f"{label}: answers differ: " + ", ".join(
                f"{system}={value}" for system, value in answers.items()))
    return problems


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    if isinstance(value, float) and value >= 100 and key != "worker_peak_rss_mib":
        return f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(rows: list[dict]) -> str:
    lines = [" ".join(f"{h:>{w}}" if i > 1 else f"{h:<{w}}"
                      for i, (h, _k, w) in enumerate(COLUMNS))]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['workload']:<24} {row['system']:<7} ERROR {row['error']}")
            continue
        lines.append(" ".join(f"{_cell(row, k):>{w}}" if i > 1 else f"{_cell(row, k):<{w}}"
                              for i, (_h, k, w) in enumerate(COLUMNS)))
    return "\n".join(lines)


def cpu_table(rows: list[dict]) -> str:
    """Each row's CPU per part by process, largest first."""
    lines = []
    for row in rows:
        spent = row.get("cpu_ms_per_part_by_process")
        if spent:
            shares = ", ".join(f"{name} {ms:.2f}" for name, ms in
                               sorted(spent.items(), key=lambda item: -item[1]))
            lines.append(f"{row['workload']:<24} {row['system']:<7} {shares}")
    return "\n".join(lines)


def _find(rows: list[dict], system: str, label: str) -> dict | None:
    return next((r for r in rows if r["system"] == system and r["workload"] == label
                 and "error" not in r), None)


def ratios(rows: list[dict]) -> list[dict]:
    """For each workload and peer: how many times better this engine did (>1: ours ahead).

    Throughput: our rate / the peer's. Latency: the peer's p50 (and p99) / ours.
    """
    found = []
    for label in dict.fromkeys(r["workload"] for r in rows):
        ours = _find(rows, OURS, label)
        if ours is None:
            continue
        for peer in dict.fromkeys(r["system"] for r in rows if r["system"] != OURS):
            theirs = _find(rows, peer, label)
            if theirs is None:
                continue
            if ours["kind"] in LATENCY_KINDS:
                found.append({"workload": label, "peer": peer, "metric": "p50 latency",
                              "ratio": round(theirs["p50_ms"] / ours["p50_ms"], 2)})
                found.append({"workload": label, "peer": peer, "metric": "p99 latency",
                              "ratio": round(theirs["p99_ms"] / ours["p99_ms"], 2)})
            else:
                key = THROUGHPUT[ours["kind"]]
                found.append({"workload": label, "peer": peer, "metric": key.replace("_", " ")
                              .replace(" per s", "/s"),
                              "ratio": round(ours[key] / theirs[key], 2)})
    return found


def ratio_table(found: list[dict]) -> str:
    lines = [f"{'workload':<24} {'metric':<12} {'vs':<7} {'mr ahead by':>11}"]
    for r in found:
        lines.append(f"{r['workload']:<24} {r['metric']:<12} {r['peer']:<7} "
                     f"{r['ratio']:>10.2f}x")
    return "\n".join(lines)


def goals(rows: list[dict]) -> list[dict]:
    """Each goal that this run can judge: the measured value and met or not."""
    judged = []

    def add(goal: str, value: float, met: bool, unit: str = "x") -> None:
        judged.append({"goal": goal, "measured": f"{value:.2f}{unit}", "met": met})

    for r in ratios(rows):
        kind = next(x["kind"] for x in rows if x["workload"] == r["workload"])
        if kind in ("fanout", "nested"):
            add(f"{r['workload']}: parts/s >= 2x {r['peer']}", r["ratio"], r["ratio"] >= 2)
        elif kind in LATENCY_KINDS and r["peer"] == "celery":
            which = r["metric"].split()[0]
            add(f"{r['workload']}: {which} <= celery's (celery {which} / mr {which} >= 1)",
                r["ratio"], r["ratio"] >= 1)
    ours = [r for r in rows if r["system"] == OURS and "error" not in r]
    for kind in ("fanout", "nested"):
        sized = sorted((r for r in ours if r["kind"] == kind), key=lambda r: r["parts"])
        if len(sized) >= 2:
            small, large = sized[0], sized[-1]
            flat = large["parts_per_s"] / small["parts_per_s"]
            add(f"{kind}: rate at {large['parts']} >= 90% of rate at {small['parts']}",
                flat * 100, flat >= 0.9, "%")
            if small.get("worker_peak_rss_mib") and large.get("worker_peak_rss_mib"):
                growth = large["worker_peak_rss_mib"] / small["worker_peak_rss_mib"]
                add(f"{kind}: worker peak RSS at {large['parts']} <= 1.25x that at "
                    f"{small['parts']} ({small['worker_peak_rss_mib']} -> "
                    f"{large['worker_peak_rss_mib']} MiB)", growth, growth <= 1.25)
    amortised = [r for r in ours if r["kind"] not in LATENCY_KINDS
                 and r.get("etcd_writes_per_invocation") is not None]
    if amortised:
        worst = max(amortised, key=lambda r: r["etcd_writes_per_invocation"])
        add(f"etcd writes per invocation <= 2 (worst: {worst['workload']})",
            worst["etcd_writes_per_invocation"], worst["etcd_writes_per_invocation"] <= 2, "")
    return judged


def goal_table(judged: list[dict]) -> str:
    return "\n".join(f"{'met    ' if g['met'] else 'NOT met'}  {g['measured']:>8}  {g['goal']}"
                     for g in judged)
