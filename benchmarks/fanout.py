"""Fan-out benchmark: one request of N parts (i*i, summed) on a real dev cluster.

    python -m benchmarks.fanout [--parts 1000 10000] [--repeat 5] [--concurrency 8]

Starts etcd, mr_broker, two mr_worker processes and gunicorn in a temporary directory, then
reports per N: parts/s, p50/p99 request latency, etcd proposals per invocation (from etcd's
own /metrics) and NSQ messages per invocation (from the broker's /stats).
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from mr import cluster, examples
from mr.kv import client as kv_client
from mr.kv import keys

REPO = Path(__file__).resolve().parents[1]


def etcd_proposals(address: str) -> int:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith("etcd_server_proposals_committed_total "):
                return int(float(line.split()[1]))
    raise RuntimeError("etcd /metrics has no etcd_server_proposals_committed_total")


def broker_messages(http_address: str) -> int:
    with urllib.request.urlopen(f"http://{http_address}/stats?format=json", timeout=5) as reply:
        stats = json.load(reply)
    return sum(t["message_count"] for t in stats["topics"])


def post(url: str, n: int) -> float:
    body = json.dumps({"arguments": {"n": n}}).encode()
    started = time.perf_counter()
    request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=600) as reply:
        result = json.load(reply)["result"]
    elapsed = time.perf_counter() - started
    if result != [["sum", sum(i * i for i in range(n))]]:
        raise RuntimeError(f"wrong result for n={n}: {result}")
    return elapsed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fanout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", type=int, nargs="+", default=[1000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64, help="per worker")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="mr-bench-") as tmp:
        base = Path(tmp)
        etcd = cluster.etcd(base / "etcd", base / "etcd.log").start()
        broker = cluster.broker(base / "broker", base / "broker.log").start()
        env = {"MR_ETCD_HOSTS": etcd.address, "MR_NSQD_HOSTS": broker.address,
               "MR_NSQD_HTTP_HOSTS": broker.http_address, "MR_WORKFLOW_NAMES": "examples",
               "MR_CONCURRENCY": str(args.concurrency), "MR_DATA_DIR": str(base / "data"),
               "MR_RESULT_DIR": str(base / "results"), "MR_REQUEST_TIMEOUT_S": "600"}
        services = [etcd, broker]
        try:
            kv = kv_client.client([etcd.address])
            examples.define(kv, REPO / "handlers")
            for n in (1, 2):
                services.append(cluster.worker(f"worker{n}", env, base / f"worker{n}.log").start())
            cluster.wait_for(lambda: kv.count(keys.workers()) >= 2, 30, "workers")
            web = cluster.front_end(env, base / "gunicorn.log").start()
            services.append(web)
            url = f"{web.url}/job/examples/squares"
            post(url, 10)  # warm-up: handlers compiled, connections open
            rows = []
            for n in args.parts:
                proposals, messages = etcd_proposals(etcd.address), broker_messages(
                    broker.http_address)
                latencies = [post(url, n) for _ in range(args.repeat)]
                invocations = (n + 2) * args.repeat  # root, n children, one reduce
                rows.append({
                    "parts": n, "repeat": args.repeat,
                    "parts_per_s": round(n / statistics.median(latencies)),
                    "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
                    "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                    "etcd_proposals_per_invocation": round(
                        (etcd_proposals(etcd.address) - proposals) / invocations, 3),
                    "nsq_messages_per_invocation": round(
                        (broker_messages(broker.http_address) - messages) / invocations, 3),
                })
        finally:
            for service in reversed(services):
                service.stop()
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
