"""This engine on gigabytes, side by side with PySpark, Ray, Dask and one plain Python process.

    python -m benchmarks.bigdata [--sizes 64 256 1024] [--jobs wordcount index]
                                 [--systems mr spark spark-textbook ray dask plain]
                                 [--repeat N] [--workdir DIR] [--json]

Jobs (benchmarks/bigdata_jobs.py), the same semantics on every system, each answer checked
equal to the plain process's (a difference fails the run):
  wordcount  word -> count over generated text (str.split() of UTF-8 lines)
  index      word -> sorted ids of the JSON-lines records whose text has it (shuffle-heavy:
             the values are lists that grow with the input)

Inputs (benchmarks/bigdata_corpus.py): generated once per size and seed, then cached in the
work directory: lines of 12 words drawn from a Zipf distribution over 100,000 synthetic words
(wordcount), and JSON lines {"id": n, "text": "<12 words>"} of the same size (index).
A size of 1 MB is 2**20 bytes.

Systems take turns on each job and size, so that all of them measure it within minutes of
each other (this VM's speed drifts by a third over a quarter of an hour): for each job and
size, each system in turn starts in a driver process of its own (benchmarks/bigdata_driver.py)
with only its own processes running, warms up and runs it, then stops; all read the same
splits (--split-mb):
  mr     etcd, mr_broker, 2 mr_worker, gunicorn; a blocking POST per job (time: POST to 200)
  spark  PySpark RDD API on local[2]: textFile, mapPartitions, reduceByKey, collect
  spark-textbook  the same, word count only, as Spark's guide writes it: flatMap(split),
         map((word, 1)), reduceByKey(add) (how the data-scale goals were first measured)
  ray    ray.init(num_cpus=2): one task per split, the driver merges
  dask   LocalCluster(n_workers=2, threads_per_worker=1, processes=True): dask.bag.read_text,
         Bag.reduction
  plain  one Python process reading the file front to back
Every system but spark-textbook counts ~1 MiB blocks of whole lines with Counter.update and
indexes a whole split in one dict: the same trick everywhere its API allows. Each runs its
jobs on a 1 MB corpus first (warm-up, not reported). A system whose packages are missing is
skipped with the command that installs them (scripts/bench installs them all).

Reported per job, size and system: seconds, MB/s, mr's throughput over the peer's, the CPU
seconds of all the system's processes (steadier than wall time on a shared host), the peak
RSS of the largest process and of all of them together; for mr also etcd's proposals and WAL
bytes written during the job, proposals per split and each worker's peak RSS; then the goals
of the comparison, judged. With --repeat N the systems run in N rounds, taking turns (mr,
Ray, mr, Ray ...), and each job's fastest run is reported: this VM's neighbours move wall and
CPU times by a third for minutes at a time, so runs in a row would let one slow phase fall
on one system alone; the fastest run is the one they disturbed least. The defaults take about 30
minutes on a 2-core VM; the 1 GB index holds its answer (about 120 million ids) in each
driver: some 5 GB, 12 GB in all for Dask.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import (
    bigdata_corpus,
    bigdata_driver,
    bigdata_jobs,
    bigdata_report,
    bigdata_systems,
    measure,
)
from benchmarks.compare import positive

REPO = Path(__file__).resolve().parents[1]
WARM_MB = 1
MACHINE = "machine: {cpus} CPUs ({cpu}), {memory_gib} GiB, {system}, Python {python}"
# plain first: it writes the answers
ORDER = ("plain", "mr", "spark", "spark-textbook", "ray", "dask")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bigdata", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", type=positive, default=[64, 256, 1024],
                   help="corpus sizes in MB (default: 64 256 1024)")
    p.add_argument("--jobs", nargs="+", choices=bigdata_jobs.JOBS,
                   default=list(bigdata_jobs.JOBS), help="which jobs (default: both)")
    p.add_argument("--systems", nargs="+", choices=bigdata_systems.NAMES,
                   help="which systems (default: every one installed)")
    p.add_argument("--workdir", type=Path, help="keep corpora, answers, logs and each "
                   "system's last data here; corpora are reused (default: a temporary dir)")
    p.add_argument("--split-mb", type=positive, default=32,
                   help="split (partition, block) size every system reads (default 32)")
    p.add_argument("--partitions", type=positive, default=4,
                   help="reduce partitions of mr and Spark (default 4)")
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument("--repeat", type=positive, default=1,
                   help="run the systems N times, in turns, and report each job's fastest "
                        "run (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    return p


def prepare(args: argparse.Namespace, workdir: Path, progress) -> list[dict]:
    """Corpora generated (or found), and the cells: warm-ups first, then job x size."""
    cells = []
    for warm, sizes in ((True, [WARM_MB]), (False, sorted(set(args.sizes)))):
        for job in args.jobs:
            for size in sizes:
                path = bigdata_corpus.ensure(workdir / "corpus", bigdata_jobs.INPUT_KIND[job],
                                             size, args.seed, progress)
                cells.append({"job": job, "size_mb": size, "path": str(path), "warm": warm,
                              "answer": str(workdir / "answers" / f"{path.stem}.{job}.pickle")})
    (workdir / "answers").mkdir(parents=True, exist_ok=True)
    return cells


def turns(cells: list[dict]) -> list[tuple[dict, dict]]:
    """(its job's warm-up, cell) for each measured cell, in the order prepare() made them."""
    warm = {cell["job"]: cell for cell in cells if cell["warm"]}
    return [(warm[cell["job"]], cell) for cell in cells if not cell["warm"]]


def drive(system: str, cells: list[dict], options: bigdata_systems.Options, workdir: Path,
          record: bool, progress) -> tuple[dict, list[dict]]:
    """Run one system's driver process over the cells: its start facts and its rows."""
    base = workdir / "systems" / system
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    plan = {"system": system, "base": str(base), "options": options.__dict__, "cells": cells,
            "record_answers": record, "out": str(base / "rows.json"),
            "log": str(workdir / "systems" / f"{system}.log")}
    (base / "plan.json").write_text(json.dumps(plan, indent=1))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    driver = subprocess.Popen([sys.executable, "-m", "benchmarks.bigdata_driver",
                               str(base / "plan.json")], stdout=subprocess.PIPE, text=True,
                              env=env, cwd=REPO)
    try:
        for line in driver.stdout:
            progress("  " + line.rstrip())
        status = driver.wait()
    finally:
        if driver.poll() is None:
            driver.terminate()
            try:
                driver.wait(120)
            except subprocess.TimeoutExpired:
                driver.kill()
    out = Path(plan["out"])
    found = json.loads(out.read_text()) if out.exists() else {"system": {"system": system},
                                                              "rows": []}
    rows = found["rows"]
    if status != 0:
        problem = f"driver exited with status {status}; see {plan['log']}"
        rows += [{"job": c["job"], "size_mb": c["size_mb"], "system": system,
                  "warm": c["warm"], "error": problem} for c in cells[len(rows):]]
    return found["system"], rows


def run(args: argparse.Namespace, workdir: Path, progress) -> dict:
    options = bigdata_systems.Options(args.split_mb << 20, args.partitions)
    wanted = list(args.systems or bigdata_systems.NAMES)
    skipped = {name: bigdata_systems.missing(name) for name in wanted}
    chosen = [name for name in ORDER if name in wanted and not skipped[name]]
    result = {"command": "python -m benchmarks.bigdata " + " ".join(sys.argv[1:]),
              "machine": measure.machine(), "load_before": measure.load_average(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
              "options": {**options.__dict__, "repeat": args.repeat},
              "skipped": {name: why for name, why in skipped.items() if why},
              "systems": [], "rows": []}
    for name, why in result["skipped"].items():
        progress(f"{name}: skipped: " + "; ".join(why))
    cells = prepare(args, workdir, progress)
    if "plain" not in chosen and not all(Path(c["answer"]).exists() for c in cells):
        progress("plain: computing the expected answers (not reported)")
        drive("plain", cells, options, workdir, True, progress)
    rounds: dict[str, list[list[dict]]] = {name: [[] for _ in range(args.repeat)]
                                           for name in chosen}
    for turn in range(args.repeat):
        for warm, cell in turns(cells):
            for name in chosen:
                if not bigdata_systems.runs(name, cell["job"]):
                    continue
                progress(f"{name}: starting for {cell['job']} {cell['size_mb']} MB"
                         + (f" (round {turn + 1} of {args.repeat})" if args.repeat > 1 else ""))
                facts, rows = drive(name, [warm, cell], options, workdir,
                                    name == "plain" and not turn, progress)
                if name not in {found.get("system") for found in result["systems"]}:
                    result["systems"].append(facts)
                kept = rounds[name][turn]   # one warm-up row a job: the first
                warmed = {row["job"] for row in kept if row["warm"]}
                kept += [row for row in rows if not (row["warm"] and row["job"] in warmed)]
    for name in chosen:
        result["rows"] += [bigdata_driver.fastest(list(runs)) for runs in zip(*rounds[name])]
    for row in result["rows"]:
        if "runs_s" in row and not row["warm"]:
            progress(bigdata_driver.brief(row))
    result["load_after"] = measure.load_average()
    result["ratios"] = bigdata_report.ratios(result["rows"])
    result["goals"] = bigdata_report.goals(result["rows"])
    return result


def render(result: dict) -> str:
    parts = [MACHINE.format(**result["machine"]) + f"; splits of "
             f"{result['options']['split_bytes'] >> 20} MB; load average before "
             f"{result['load_before']}, after {result['load_after']}"]
    parts += [f"{s['system']}: {s.get('describe', '?')} (started in {s.get('start_s', '?')} s)"
              for s in result["systems"]]
    parts += [f"{name}: SKIPPED: " + "; ".join(why) for name, why in result["skipped"].items()]
    parts += ["", bigdata_report.table(result["rows"])]
    if result["options"].get("repeat", 1) > 1:
        parts.append(f"(seconds: the fastest of {result['options']['repeat']} runs of each)")
    if result["ratios"]:
        parts += ["", bigdata_report.ratio_table(result["ratios"])]
    parts += ["", "each system's largest processes: peak RSS MiB / CPU s",
              bigdata_report.usage_table(result["rows"])]
    if result["goals"]:
        parts += ["", "goals:", bigdata_report.goal_table(result["goals"])]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)  # a terminated run still stops its drivers
    if args.workdir:
        result = run(args, args.workdir.resolve(), progress)
    else:
        with tempfile.TemporaryDirectory(prefix="mr-bigdata-") as tmp:
            result = run(args, Path(tmp), progress)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 1 if any("error" in r for r in result["rows"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
