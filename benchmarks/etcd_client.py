"""The etcd facade under gevent, as the front-end uses it.

    python -m benchmarks.etcd_client [--etcd HOST:PORT] [--greenlets 50] [--seconds 3]

Without --etcd a throwaway etcd is started. Reports sequential put/get/txn latency, puts/s
from N concurrent greenlets, and whether a watch blocked in one greenlet delivers every event
while the others write (and how long the hub ever stalled, from a 5 ms ticker).
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402  (imports after monkey-patching, as gevent requires)
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

from mr.kv import client as kv_client  # noqa: E402

kv_client.init_gevent()


def p50_ms(action, count: int = 200) -> float:
    samples = []
    for i in range(count):
        started = time.perf_counter()
        action(i)
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1000, 2)


def measure(address: str, greenlets: int, seconds: float) -> dict:
    kv = kv_client.KV([address])
    prefix = f"/bench/{uuid.uuid4().hex}/"
    key = lambda i: f"{prefix}{i % 50}"  # noqa: E731
    results = {
        "put_p50_ms": p50_ms(lambda i: kv.put(key(i), b"x" * 64)),
        "get_p50_ms": p50_ms(lambda i: kv.get(key(i))),
        "txn_p50_ms": p50_ms(lambda i: kv.txn([kv_client.cmp_present(key(i))],
                                               [kv_client.op_put(key(i), b"y"),
                                                kv_client.op_get(key(i))])),
    }
    watch = kv.watch_prefix(prefix + "w/", kv.revision() + 1)
    seen, stop, gaps = [0], [False], [0.0]

    def follow():
        for _rev, events in watch:
            seen[0] += len(events)

    def ticker():
        last = time.perf_counter()
        while not stop[0]:
            gevent.sleep(0.005)
            now = time.perf_counter()
            gaps[0] = max(gaps[0], now - last - 0.005)
            last = now

    written = [0]

    def writer(n):
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            kv.put(f"{prefix}w/{n}/{written[0]}", b"v")
            written[0] += 1

    background = [gevent.spawn(follow), gevent.spawn(ticker)]
    gevent.joinall([gevent.spawn(writer, n) for n in range(greenlets)])
    deadline = time.perf_counter() + 10
    while seen[0] < written[0] and time.perf_counter() < deadline:
        gevent.sleep(0.01)
    stop[0] = True
    watch.cancel()
    gevent.killall(background)
    kv.delete(prefix, prefix=True)
    results.update({"greenlets": greenlets, "puts_per_s": round(written[0] / seconds),
                    "watch_events": f"{seen[0]}/{written[0]}",
                    "max_hub_stall_ms": round(gaps[0] * 1000, 1)})
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.etcd_client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--etcd", help="an etcd to use (default: start a throwaway one)")
    parser.add_argument("--greenlets", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    if args.etcd:
        print(json.dumps(measure(args.etcd, args.greenlets, args.seconds), indent=2))
        return 0
    from mr import cluster
    with tempfile.TemporaryDirectory(prefix="mr-etcd-bench-") as tmp:
        etcd = cluster.etcd(Path(tmp) / "data", Path(tmp) / "etcd.log").start()
        try:
            print(json.dumps(measure(etcd.address, args.greenlets, args.seconds), indent=2))
        finally:
            etcd.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
