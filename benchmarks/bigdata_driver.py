"""One compared system's run, in a process of its own: `python -m benchmarks.bigdata_driver
PLAN.json`, started by benchmarks.bigdata.

A process per system keeps each system's driver-side memory (Spark's and Ray's drivers, Dask's
scheduler, the plain process itself) apart from the others' and from the harness, and lets
every process the system starts be found as a descendant of this one. The plan names the
system, its options and the cells (job, corpus); for each cell this process times the job,
samples its processes' memory and CPU time, reads the system's counters, and checks the
answer against the plain process's (the plain system writes those answers). Rows go to the
plan's "out" file after every cell; one line of progress per cell goes to standard output,
everything the system prints to the plan's log.
"""
from __future__ import annotations

import gc
import json
import os
import pickle
import signal
import sys
import time
import traceback
from pathlib import Path

from benchmarks import bigdata_jobs, bigdata_splits, bigdata_systems
from benchmarks.bigdata_usage import TreeSampler

MB = 1 << 20


def run_cell(system, cell: dict, options: bigdata_systems.Options, record: bool) -> dict:
    """One job on one corpus: the row of the report."""
    size = os.path.getsize(cell["path"])
    row = {"job": cell["job"], "size_mb": cell["size_mb"], "bytes": size,
           "system": system.name, "warm": cell.get("warm", False),
           "splits": len(bigdata_splits.ranges(size, options.split_bytes)),
           "load_1m": round(os.getloadavg()[0], 2)}
    gc.collect()
    before = system.counters()
    try:
        with TreeSampler(os.getpid(), {os.getpid(): "driver", **system.labels()}) as usage:
            started = time.perf_counter()
            answer, facts = system.run(cell["job"], cell["path"])
            wall = time.perf_counter() - started
    except Exception as exc:  # reported in the row; the next cell still runs
        row["error"] = f"{exc.__class__.__name__}: {exc}"[:500]
        row["traceback"] = traceback.format_exc()[-3000:]
        return row
    seconds = facts.pop("seconds", wall)
    row.update(facts, seconds=round(seconds, 3), mb_per_s=round(size / MB / seconds, 2),
               usage=usage.summary())
    after = system.counters()
    for name in after:
        row[name] = after[name] - before[name]
    label = f"{cell['job']} {cell['size_mb']} MB on {system.name}"
    try:
        if record:
            with open(cell["answer"] + ".partial", "wb") as out:
                pickle.dump(bigdata_jobs.compact(answer), out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(cell["answer"] + ".partial", cell["answer"])
        else:
            with open(cell["answer"], "rb") as saved:
                bigdata_jobs.check(label, answer, pickle.load(saved))
        row["checked"] = True
    except (bigdata_jobs.WrongAnswer, OSError) as exc:
        row["error"] = f"{exc.__class__.__name__}: {exc}"[:1000]
    return row


def fastest(runs: list[dict]) -> dict:
    """One cell's rows, one from each round of the benchmark: the fastest run's, with every
    run's seconds in it, or the first failed run's. The fastest run is the one this VM's
    neighbours disturbed least: they move its wall and CPU times by a third within minutes."""
    for row in runs:
        if "seconds" not in row or "error" in row:
            return row
    best = dict(min(runs, key=lambda row: row["seconds"]))
    if len(runs) > 1:
        best["runs_s"] = [row["seconds"] for row in runs]
    return best


def brief(row: dict) -> str:
    where = f"{'warm-up ' if row['warm'] else ''}{row['job']} {row['size_mb']} MB {row['system']}"
    if "seconds" not in row:
        return f"{where}: ERROR {row['error']}"
    usage = row["usage"]
    line = (f"{where}: {row['seconds']:.2f} s, {row['mb_per_s']:.1f} MB/s, {usage['cpu_s']} CPU "
            f"s, largest process {usage['max_process_mib']} MiB")
    if "runs_s" in row:
        line += f" (fastest of {', '.join(f'{s:.2f}' for s in row['runs_s'])} s)"
    return line + (f"; ERROR {row['error']}" if "error" in row else "")


def main(argv: list[str] | None = None) -> int:
    plan = json.loads(Path((argv or sys.argv[1:])[0]).read_text())

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)  # stop what the system started, then exit
    progress = os.fdopen(os.dup(1), "w", buffering=1)
    log = os.open(plan["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)  # the system's own chatter (JVM, Ray, Dask) goes to the log
    os.dup2(log, 2)
    options = bigdata_systems.Options(**plan["options"])
    system = bigdata_systems.create(plan["system"], options)
    rows: list[dict] = []
    out = Path(plan["out"])
    try:
        clock = time.perf_counter()
        system.start(Path(plan["base"]))
        started = {"system": system.name, "describe": system.describe(),
                   "start_s": round(time.perf_counter() - clock, 2)}
        out.write_text(json.dumps({"system": started, "rows": rows}))
        progress.write(f"{system.name}: started in {started['start_s']} s: "
                       f"{started['describe']}\n")
        for cell in plan["cells"]:
            rows.append(run_cell(system, cell, options, plan["record_answers"]))
            out.write_text(json.dumps({"system": started, "rows": rows}))
            progress.write(brief(rows[-1]) + "\n")
    finally:
        system.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
