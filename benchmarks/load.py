"""Load: hold many blocking requests at once through gunicorn (gevent), round after round.

    python -m benchmarks.load [--clients 500] [--rounds 5] [--parts 4] [--concurrency 64]
    python -m benchmarks.load --url http://127.0.0.1:8080 --workflow bench --job squares
                              [--pid gunicorn=PID --pid worker=PID ...]

Starts etcd, mr_broker, two mr_worker processes and gunicorn (two gevent workers) in a
temporary directory, unless --url names a running front-end. Each round, --clients threads
POST one blocking `squares` request of --parts parts each, all released at the same moment,
so the front-end holds them all open while the workers catch up. Reported per round: errors
(any answer but 200 with the right result), the most requests open at once, p50/p99 latency,
and each process's resident memory and open file descriptors after the round: a leak shows
as growth from round to round.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from benchmarks import measure
from benchmarks.systems.mr_engine import WORKFLOW, Client, MrEngine
from mr import cluster


@dataclass
class Round:
    number: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    most_open: int = 0
    seconds: float = 0.0
    processes: dict[str, dict] = field(default_factory=dict)
    etcd: dict[str, float] = field(default_factory=dict)
    load_average: list[float] = field(default_factory=list)


def status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def snapshot(groups: dict[str, list[int]]) -> dict[str, dict]:
    """RSS (MiB) and open file descriptors of each process, by label (children included)."""
    found = {}
    for label, pids in groups.items():
        for index, pid in enumerate(pids):
            name = label if len(pids) == 1 else f"{label}[{index}]"
            try:
                found[name] = {"rss_mib": round(status_kib(pid, "VmRSS") / 1024, 1),
                               "fds": len(list(Path(f"/proc/{pid}/fd").iterdir()))}
            except OSError:
                found[name] = {"rss_mib": None, "fds": None}
    return found


ETCD_GAUGES = {"keys": "etcd_debugging_mvcc_keys_total",
               "db_mib": "etcd_mvcc_db_total_size_in_bytes",
               "db_in_use_mib": "etcd_mvcc_db_total_size_in_use_in_bytes",
               "heap_mib": "go_memstats_heap_inuse_bytes"}


def etcd_state(address: str | None) -> dict[str, float]:
    """What etcd holds: live keys, database size and in-use part, Go heap (from /metrics)."""
    if not address:
        return {}
    state = {}
    for name, metric in ETCD_GAUGES.items():
        value = measure.etcd_metric(address, metric)
        state[name] = int(value) if name == "keys" else round(value / 2 ** 20, 1)
    return state


class Load:
    """`clients` threads, each with its own keep-alive connection, released together."""

    def __init__(self, url: str, workflow: str, job: str, parts: int, clients: int):
        self.path, self.parts = f"/job/{workflow}/{job}", parts
        self.expected = sum(i * i for i in range(parts))
        self.clients = [Client(url, timeout=600) for _ in range(clients)]
        self._lock = threading.Lock()
        self._open = 0

    def run(self, result: Round) -> None:
        result.seconds = round(measure.released_together(
            [partial(self._one, client, result=result) for client in self.clients]), 2)

    def _one(self, client: Client, start: threading.Barrier, *, result: Round) -> None:
        start.wait()
        with self._lock:
            self._open += 1
            result.most_open = max(result.most_open, self._open)
        began = time.perf_counter()
        try:
            body = client.post(self.path, {"n": self.parts})
            total = sum(value for _key, value in body["result"])
            if total != self.expected:
                raise RuntimeError(f"wrong result {total}, expected {self.expected}")
        except Exception as exc:  # every failure counts, whatever it is
            client.close()
            with self._lock:
                result.errors.append(f"{exc.__class__.__name__}: {exc}"[:300])
        else:
            with self._lock:
                result.latencies_ms.append((time.perf_counter() - began) * 1000)
        finally:
            with self._lock:
                self._open -= 1

    def close(self) -> None:
        for client in self.clients:
            client.close()


def cluster_processes(engine: MrEngine) -> dict[str, list[int]]:
    web = next(s for s in engine.services if s.name == "gunicorn")
    return {"etcd": [engine.etcd.pid], "broker": [engine.broker.pid],
            "mr_worker": engine.worker_pids(), "gunicorn master": [web.pid],
            "gunicorn worker": sorted(measure.children(web.pid))}


def settle(etcd_address: str | None, baseline: int, limit_s: float) -> float | None:
    """Seconds until etcd holds no more keys than before the first round (retention has
    removed every finished request); None if that took longer than `limit_s`."""
    if not etcd_address or limit_s <= 0:
        return None
    began = time.monotonic()
    while time.monotonic() - began < limit_s:
        if etcd_state(etcd_address)["keys"] <= baseline:
            return round(time.monotonic() - began, 1)
        time.sleep(1)
    return None


def report(rounds: list[Round], as_json: bool, settled: Round | None = None) -> None:
    rows = []
    for r in rounds:
        ok = sorted(r.latencies_ms)
        rows.append({"round": r.number, "requests": len(ok) + len(r.errors),
                     "errors": len(r.errors), "most_open": r.most_open, "seconds": r.seconds,
                     "p50_ms": round(measure.percentile(ok, 0.5), 1) if ok else None,
                     "p99_ms": round(measure.percentile(ok, 0.99), 1) if ok else None,
                     "load_average": r.load_average, "etcd": r.etcd, "processes": r.processes,
                     "first_errors": r.errors[:3]})
    after = None if settled is None else {"seconds": settled.seconds, "etcd": settled.etcd,
                                           "processes": settled.processes}
    if as_json:
        print(json.dumps({"machine": measure.machine(), "rounds": rows, "settled": after},
                         indent=2))
        return
    print(f"{'round':>5} {'requests':>8} {'errors':>6} {'open':>5} {'secs':>6} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'load':>6}" + "".join(f" {'etcd ' + n:>18}" for n in ETCD_GAUGES))
    for row in rows:
        etcd = "".join(f" {row['etcd'].get(n, '-'):>18}" for n in ETCD_GAUGES)
        print(f"{row['round']:>5} {row['requests']:>8} {row['errors']:>6} {row['most_open']:>5} "
              f"{row['seconds']:>6} {row['p50_ms']:>8} {row['p99_ms']:>8} "
              f"{row['load_average'][0]:>6}{etcd}")
        for error in row["first_errors"]:
            print(f"      error: {error}")
    names = list(rows[0]["processes"]) if rows else []
    if names:
        print(f"\n{'process':<20} {'RSS MiB: first':>14} {'last':>7} {'max':>7} "
              f"{'settled':>8} {'open fds: first':>15} {'last':>6} {'max':>6}")
        for name in names:
            rss = [r["processes"][name]["rss_mib"] or 0 for r in rows]
            fds = [r["processes"][name]["fds"] or 0 for r in rows]
            calm = after["processes"][name]["rss_mib"] if after else "-"
            print(f"{name:<20} {rss[0]:>14} {rss[-1]:>7} {max(rss):>7} {calm:>8} "
                  f"{fds[0]:>15} {fds[-1]:>6} {max(fds):>6}")
    if after:
        print(f"\nsettled: etcd back to {after['etcd'].get('keys')} keys "
              + (f"{after['seconds']}s after the last round" if after["seconds"] is not None
                 else "(not within --settle)") + f"; etcd {after['etcd']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=500, help="requests held at once")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parts", type=int, default=4, help="children of each request")
    parser.add_argument("--concurrency", type=int, default=64, help="per mr_worker")
    parser.add_argument("--etcd-retention", default="30s",
                        help="history the new cluster's etcd keeps before compacting it (mr's "
                             f"default is {cluster.ETCD_RETENTION}; shorter shows steady state "
                             "sooner)")
    parser.add_argument("--retention", default="10",
                        help="seconds the new cluster keeps a finished request's record "
                             "(MR_RETENTION_S; mr's default is a day, which grows etcd's key "
                             "count by design)")
    parser.add_argument("--url", help="a running front-end instead of a new cluster")
    parser.add_argument("--workflow", default=WORKFLOW, help="with --url")
    parser.add_argument("--etcd", help="with --url: etcd client address, to report what it holds")
    parser.add_argument("--job", default="squares", help="with --url: a job taking {n: int} "
                        "whose result sums to sum(i*i for i < n)")
    parser.add_argument("--pid", action="append", default=[], metavar="LABEL=PID",
                        help="with --url: a process to watch (repeatable)")
    parser.add_argument("--settle", type=float, default=120,
                        help="after the rounds, wait up to this many seconds for retention to "
                             "remove every finished request, then measure again (0: skip)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.rounds < 1:
        parser.error("--clients and --rounds must be at least 1")
    try:
        watched = {label: [int(pid)] for label, pid in (p.split("=", 1) for p in args.pid)}
    except ValueError:
        parser.error("--pid takes LABEL=PID, e.g. --pid worker=1234")

    engine, rounds, settled = None, [], None
    with tempfile.TemporaryDirectory(prefix="mr-load-") as tmp:
        try:
            url = args.url
            if url is None:
                cluster.ETCD_RETENTION = args.etcd_retention
                engine = MrEngine(concurrency=args.concurrency,
                                  extra_env={"MR_RETENTION_S": args.retention})
                engine.start(Path(tmp))
                url = f"http://{engine.client.host}:{engine.client.port}"
                watched = cluster_processes(engine)
            load = Load(url, args.workflow, args.job, args.parts, args.clients)
            Client(url).post(load.path, {"n": 2})  # warm-up: handlers compiled, watches open
            etcd_address = engine.etcd.address if engine else args.etcd
            baseline = etcd_state(etcd_address).get("keys", 0)
            for number in range(1, args.rounds + 1):
                result = Round(number)
                load.run(result)
                result.processes = snapshot(watched)
                result.etcd = etcd_state(etcd_address)
                result.load_average = measure.load_average()
                rounds.append(result)
            load.close()
            if args.settle > 0:
                settled = Round(0)
                settled.seconds = settle(etcd_address, baseline, args.settle)
                settled.etcd, settled.processes = etcd_state(etcd_address), snapshot(watched)
        finally:
            if engine is not None:
                engine.stop()
    report(rounds, args.json, settled)
    return 1 if any(r.errors for r in rounds) else 0


if __name__ == "__main__":
    raise SystemExit(main())
