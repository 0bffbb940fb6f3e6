"""Where our engine's time goes during one workload: CPU seconds per process and, with py-spy,
the functions the workers and front-ends spend them in.

    python -m benchmarks.profile [--workload fanout] [--parts 10000] [--py-spy DIR]

Starts the same cluster as benchmarks.compare, warms it up, then runs the workload once while
reading each process's CPU time from /proc (etcd, broker, each worker, gunicorn with its
workers). With --py-spy DIR it also samples the workers, gunicorn and the broker with py-spy
(`pip install py-spy`; only the thread holding the GIL, i.e. Python on a CPU), writes their
collapsed stacks to DIR and prints the functions with the most samples, inclusive and self.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks import measure, runner, workloads
from benchmarks.systems.mr_engine import MrEngine

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (every thread), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def processes(engine: MrEngine) -> dict[str, list[int]]:
    """The cluster's processes by role (gunicorn counts its master and its workers)."""
    found: dict[str, list[int]] = {}
    for service in engine.services:
        if service.alive():
            found[service.name] = [service.pid, *measure.children(service.pid)]
    return found


def summarize(collapsed: Path, top: int = 15) -> str:
    """The functions with most samples in a py-spy raw (collapsed) file: inclusive and self."""
    inclusive, own, total = Counter(), Counter(), 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1]
                  for f in stack.split(";")]
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"  {total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own)):
        lines.append(f"  top {title}:")
        lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(top)]
    return "\n".join(lines)


FSYNC = ("etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds")


def etcd_disk(address: str) -> dict[str, tuple[float, float]]:
    """(sum of seconds, count) of etcd's WAL fsyncs and backend commits so far."""
    return {name: (measure.etcd_metric(address, name + "_sum"),
                   measure.etcd_metric(address, name + "_count")) for name in FSYNC}


def latency_phases(engine: MrEngine, requests: int) -> dict[str, float]:
    """Median ms of each phase of a one-invocation request, from the records it leaves in etcd
    (the engine runs with MR_CLEANUP=0) and the client's clock (one machine, one clock)."""
    from benchmarks.systems.mr_engine import WORKFLOW
    from mr.kv import client as kv_client
    from mr.kv import keys
    from mr.kv.models import Invocation, Request, decode

    kv = kv_client.KV([engine.etcd.address])
    phases: dict[str, list[float]] = {}
    try:
        for i in range(requests):
            sent = time.time()
            body = engine.post("one", {"n": i})
            received = time.time()
            rid = body["request_id"]
            request = decode(Request, kv.get(keys.request(WORKFLOW, rid)).value)
            root = decode(Invocation, kv.get(keys.invocation(WORKFLOW, rid, "0")).value)
            for name, begin, end in (
                    ("client -> front-end has parsed the POST", sent, request.created),
                    ("request written + published + delivered + read", request.created,
                     root.started),
                    ("start claim committed + handler ran", root.started, root.finished),
                    ("result written + watch fired + reply received", root.finished, received),
                    ("whole request", sent, received)):
                phases.setdefault(name, []).append(1000 * (end - begin))
    finally:
        kv.close()
    return {name: round(measure.percentile(values, 0.5), 2) for name, values in phases.items()}


def _measure(engine: MrEngine, workload: workloads.Workload, chunks: list[str],
             roles: dict[str, list[int]]) -> tuple[dict, float, dict, dict]:
    """One run of the workload: its row, wall seconds, CPU seconds by role, etcd disk times."""
    before = {role: sum(cpu_seconds(p) for p in pids) for role, pids in roles.items()}
    disk = etcd_disk(engine.etcd.address)
    started = time.perf_counter()
    row = runner.run_one(engine, workload, chunks, runner.Options(repeat=1, latency_requests=200))
    wall = time.perf_counter() - started
    used = {role: sum(cpu_seconds(p) for p in pids) - before[role]
            for role, pids in roles.items()}
    disk = {name: (total - disk[name][0], count - disk[name][1])
            for name, (total, count) in etcd_disk(engine.etcd.address).items()}
    return row, wall, used, disk


def _report(workload: workloads.Workload, row: dict, wall: float, used: dict,
            disk: dict) -> None:
    kind = workload.kind
    units = row["runs"] if kind in ("latency", "load") else workload.parts
    unit = {"latency": "request", "load": "request", "wordcount": "chunk"}.get(kind, "part")
    print(f"{workload.label}: {wall:.2f} s wall, {units / wall:.0f} {unit}s/s, etcd writes/inv "
          f"{row['etcd_writes_per_invocation']}, nsq/inv {row['nsq_messages_per_invocation']}")
    print(f"CPU seconds (of {wall * (os.cpu_count() or 1):.1f} available on "
          f"{os.cpu_count()} CPUs), ms per {unit}:")
    for role, seconds in sorted(used.items(), key=lambda kv: -kv[1]):
        print(f"  {role:<9} {seconds:7.2f} s  {1000 * seconds / units:7.3f} ms")
    print(f"  {'all':<9} {sum(used.values()):7.2f} s  {1000 * sum(used.values()) / units:7.3f} ms")
    for name, (total, count) in disk.items():
        if count:
            print(f"etcd {name.removeprefix('etcd_disk_')}: {count:.0f} x "
                  f"{1000 * total / count:.2f} ms mean")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=("fanout", "nested", "latency", "load", "wordcount"),
                   default="fanout", help="load: one-part requests from 16 clients at once")
    p.add_argument("--parts", type=int, default=10000, help="N for fanout and nested")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--py-spy", type=Path, metavar="DIR",
                   help="also sample the Python processes with py-spy into DIR")
    p.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    p.add_argument("--runs", type=int, default=1,
                   help="run the workload this many times on one cluster, a report each "
                        "(shows whether later runs cost more)")
    args = p.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if args.py_spy and not Path(spy).exists():
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2

    kind = args.workload
    workload = workloads.Workload(kind, {"latency": 1, "load": 1,
                                         "wordcount": workloads.WORD_CHUNKS}.get(kind, args.parts),
                                  clients=workloads.LOAD_CLIENTS if kind == "load" else 1)
    chunks = workloads.chunks()
    engine = MrEngine(concurrency=args.concurrency,
                      extra_env={"MR_CLEANUP": "0"} if kind == "latency" else None)
    with tempfile.TemporaryDirectory(prefix="mr-profile-") as tmp:
        try:
            engine.start(Path(tmp))
            runner.warm_up(engine, chunks)
            roles = processes(engine)
            samplers = []
            if args.py_spy:
                args.py_spy.mkdir(parents=True, exist_ok=True)
                for role, pids in roles.items():
                    if role == "etcd":
                        continue
                    for pid in pids:
                        out = args.py_spy / f"{role}-{pid}.txt"
                        samplers.append((role, out, subprocess.Popen(
                            [spy, "record", "--pid", str(pid), "--format", "raw", "--rate",
                             str(args.rate), "--output", str(out), "--nonblocking", "--gil"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
                time.sleep(1.0)  # py-spy attaches before the workload starts
            reports = [_measure(engine, workload, chunks, roles) for _ in range(args.runs)]
            phases = latency_phases(engine, 200) if kind == "latency" else {}
            for _role, _out, sampler in samplers:
                sampler.send_signal(2)  # SIGINT: py-spy writes its file and exits
            for _role, _out, sampler in samplers:
                sampler.wait(30)
        finally:
            engine.stop()
    for run, (row, wall, used, disk) in enumerate(reports, 1):
        if "error" in row:
            print(f"{workload.label}: {row['error']}", file=sys.stderr)
            return 1
        if args.runs > 1:
            print(f"run {run} of {args.runs}:")
        _report(workload, row, wall, used, disk)
    if phases:
        print("one-invocation request, median ms per phase (MR_CLEANUP=0):")
        for name, ms in phases.items():
            print(f"  {ms:8.2f}  {name}")
    for _role, out, _sampler in samplers:
        if out.exists():
            print(f"\npy-spy {out.name}:\n{summarize(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
