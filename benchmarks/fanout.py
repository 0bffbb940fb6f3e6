"""Fan-out benchmark: one request of N parts (i*i, summed) on a real dev cluster.

    python -m benchmarks.fanout [--parts 1000 10000] [--repeat 5] [--concurrency 64]

Starts etcd, mr_broker, two mr_worker processes and gunicorn in a temporary directory, then
reports per N: parts/s, p50/p99 request latency, etcd proposals per invocation (from etcd's
own /metrics) and NSQ messages per invocation (from the broker's /stats). The comparison with
Celery and Dask runs the same cluster: python -m benchmarks.compare.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks import runner, workloads
from benchmarks.systems.mr_engine import MrEngine


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fanout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", type=int, nargs="+", default=[1000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64, help="per worker")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    engine = MrEngine(concurrency=args.concurrency)
    options = runner.Options(repeat=args.repeat, budget_s=float("inf"))
    with tempfile.TemporaryDirectory(prefix="mr-bench-") as tmp:
        try:
            engine.start(Path(tmp))
            engine.fanout(10)  # warm-up: handlers compiled, connections open
            measured = [runner.run_one(engine, workloads.Workload("fanout", n), [], options)
                        for n in args.parts]
        finally:
            engine.stop()
    for row in measured:
        if "error" in row:
            raise SystemExit(f"fanout {row['parts']}: {row['error']}")
    rows = [{"parts": r["parts"], "repeat": r["runs"], "parts_per_s": round(r["parts_per_s"]),
             "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
             "etcd_proposals_per_invocation": r["etcd_writes_per_invocation"],
             "nsq_messages_per_invocation": r["nsq_messages_per_invocation"]} for r in measured]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'parts':>7} {'parts/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'etcd/inv':>9} "
              f"{'nsq/inv':>8}")
        for r in rows:
            print(f"{r['parts']:>7} {r['parts_per_s']:>9} {r['p50_ms']:>9} {r['p99_ms']:>9} "
                  f"{r['etcd_proposals_per_invocation']:>9} {r['nsq_messages_per_invocation']:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
