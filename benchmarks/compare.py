"""This engine side by side with Celery and Dask: the same workloads, one run, one machine.

    python -m benchmarks.compare [--systems mr celery dask] [--parts 1000 10000] [--json]

Systems, all started from this process; each workload runs on each system in turn:
  mr      etcd, mr_broker, two mr_worker processes, gunicorn (HTTP requests, blocking)
  celery  Celery 5, Redis broker and result backend (redis-server, no persistence),
          one worker with two prefork processes; chords
  dask    Dask distributed LocalCluster: two worker processes, one thread each

Workloads: fanout (one request of N parts computing i*i, a reducer summing), nested (10
mid-level mappers of N/10 leaves each, a reduce per level), latency (one part, 200
sequential requests), load (one part, 16 clients at once, each sending its next request when
its last one answered: 400 requests), wordcount (the licence texts of
/usr/share/common-licenses in 200 chunks). latency and load run in 3 series, each series on
every system in turn. Every answer is checked, and the systems' answers must agree.

Prints a table (parts/s, chunks/s, p50/p99 ms, the system's CPU ms per part; for mr etcd
writes and NSQ messages per invocation; workers' peak RSS), each row's CPU by process, the
ratios of mr against each peer and the goals. CPU counts every process a system started
(etcd, the broker, the workers and gunicorn; Redis and the Celery worker; Dask's worker
processes), not the benchmark's own, which holds every system's clients and Dask's scheduler.
Celery and Dask are optional: `pip install -e '.[bench]'` and `apt-get install
redis-server`, or run scripts/bench, which installs both and runs this.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import measure, report, runner, systems, workloads

KINDS = ("fanout", "nested", "latency", "load", "wordcount")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--systems", nargs="+", choices=systems.NAMES, default=list(systems.NAMES),
                   help="which systems to run (default: all three)")
    p.add_argument("--parts", nargs="+", type=positive, default=[1000, 10000],
                   help="N for fanout and nested (default: 1000 10000)")
    p.add_argument("--workloads", nargs="+", choices=KINDS, default=list(KINDS),
                   help="which workloads (default: all)")
    p.add_argument("--repeat", type=positive, default=3,
                   help="runs per throughput workload (default 3)")
    p.add_argument("--budget", type=float, default=60.0,
                   help="stop repeating a workload once its runs took this many seconds")
    p.add_argument("--latency-requests", type=positive, default=workloads.LATENCY_REQUESTS,
                   help="requests of each latency series (default 200)")
    p.add_argument("--latency-series", type=positive, default=3,
                   help="series of the latency and load workloads (default 3)")
    p.add_argument("--load-clients", type=positive, default=workloads.LOAD_CLIENTS,
                   help="clients of the load workload (default 16)")
    p.add_argument("--load-requests", type=positive, default=workloads.LOAD_REQUESTS,
                   help="requests of each load series, all clients together (default 400)")
    p.add_argument("--concurrency", type=positive, default=64,
                   help="invocations each mr worker runs at once (default 64)")
    p.add_argument("--workdir", type=Path,
                   help="keep data and logs here (default: a temporary directory)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    return p


def run(args: argparse.Namespace, progress) -> dict:
    plan = workloads.plan(sorted(set(args.parts)), args.workloads, args.latency_series,
                          args.load_clients)
    chunks = workloads.chunks()
    options = runner.Options(args.repeat, args.budget, args.latency_requests,
                             args.load_requests)
    result = {"command": "python -m benchmarks.compare " + " ".join(sys.argv[1:]),
              "machine": measure.machine(), "load_before": measure.load_average(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    with tempfile.TemporaryDirectory(prefix="mr-compare-") as tmp:
        result["rows"], result["systems"] = runner.run_all(
            args.systems, lambda name: systems.create(name, concurrency=args.concurrency),
            plan, chunks, options, args.workdir or Path(tmp), progress)
    result["load_after"] = measure.load_average()
    result["disagreements"] = report.disagreements(result["rows"])
    result["ratios"] = report.ratios(result["rows"])
    result["goals"] = report.goals(result["rows"])
    return result


def render(result: dict) -> str:
    machine = result["machine"]
    parts = [f"machine: {machine['cpus']} CPUs ({machine['cpu']}), {machine['memory_gib']} GiB, "
             f"{machine['system']}, Python {machine['python']}",
             f"load average before {result['load_before']}, after {result['load_after']}"]
    parts += [f"{s['system']}: {s.get('describe', '')} (started in {s.get('start_s', '?')} s)"
              for s in result["systems"]]
    parts += ["", report.table(result["rows"])]
    parts += ["", "CPU ms per part by process (each with its descendants; not the benchmark's "
              "own process: its clients, and Dask's scheduler and nannies):",
              report.cpu_table(result["rows"])]
    if result["ratios"]:
        parts += ["", report.ratio_table(result["ratios"])]
    if result["goals"]:
        parts += ["", "goals:", report.goal_table(result["goals"])]
    for problem in result["disagreements"]:
        parts.append(f"DISAGREEMENT {problem}")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    problems = [p for name in args.systems for p in systems.missing(name)]
    if problems:
        print("cannot run the comparison:\n  " + "\n  ".join(problems)
              + "\nor leave a system out with --systems (e.g. --systems mr)", file=sys.stderr)
        return 2

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)  # a terminated run still stops what it started
    result = run(args, progress)
    print(json.dumps(result, indent=2) if args.json else render(result))
    failed = result["disagreements"] or any("error" in r for r in result["rows"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
