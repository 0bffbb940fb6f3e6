"""mr_dev_cluster: a whole cluster on this machine — etcd, the broker, workers, gunicorn.

One worker process per core (two at least): data steps' handlers are CPU-bound Python, and a
process is what gets a core of its own past the GIL.

    mr_dev_cluster start | stop | status | run-example

State (data, logs, pids) lives in MR_DEV_DIR (default ~/.mr-dev). Ports are the defaults of
every MR_* setting (etcd 2379, broker 4150/4151, HTTP 8080), so other scripts need no set-up.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from mr import cluster, examples
from mr.cli.common import run
from mr.errors import UserError
from mr.kv import client as kv_client
from mr.kv import keys

ETCD_PORT, BROKER_TCP, BROKER_HTTP, HTTP_PORT = 2379, 4150, 4151, 8080
REPO_HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
WORKERS = tuple(f"worker{n}" for n in range(1, max(2, os.cpu_count() or 1) + 1))


def state_dir() -> Path:
    return Path(os.environ.get("MR_DEV_DIR", Path.home() / ".mr-dev"))


def _pids_file() -> Path:
    return state_dir() / "cluster.json"


def _running() -> dict[str, int]:
    try:
        pids = json.loads(_pids_file().read_text())
    except (OSError, ValueError):
        return {}
    alive = {}
    for name, pid in pids.items():
        try:
            os.kill(pid, 0)
            alive[name] = pid
        except OSError:
            pass
    return alive


def env() -> dict[str, str]:
    return {"MR_ETCD_HOSTS": f"127.0.0.1:{ETCD_PORT}",
            "MR_NSQD_HOSTS": f"127.0.0.1:{BROKER_TCP}",
            "MR_NSQD_HTTP_HOSTS": f"127.0.0.1:{BROKER_HTTP}",
            "MR_WORKFLOW_NAMES": examples.WORKFLOW,
            "MR_DATA_DIR": str(state_dir() / "data"),
            "MR_RESULT_DIR": str(state_dir() / "results")}


def start(_args: argparse.Namespace | None = None) -> int:
    if _running():
        print(f"dev cluster already running (pids in {_pids_file()})")
        return 0
    base, logs = state_dir(), state_dir() / "logs"
    os.environ.update(env())
    print(f"starting the dev cluster in {base} (logs in {logs})")
    services = [cluster.etcd(base / "etcd", logs / "etcd.log", ETCD_PORT),
                cluster.broker(base / "broker", logs / "broker.log", BROKER_TCP, BROKER_HTTP)]
    pids: dict[str, int | None] = {}
    try:
        for service in services:
            service.start()
            pids[service.name] = service.pid
            print(f"  {service.name:<9} pid {service.pid}")
        kv = kv_client.client([f"127.0.0.1:{ETCD_PORT}"])
        examples.define(kv, REPO_HANDLERS)
        for name in WORKERS:
            worker = cluster.worker(name, env(), logs / f"{name}.log").start()
            pids[worker.name] = worker.pid
            print(f"  {worker.name:<9} pid {worker.pid}")
        cluster.wait_for(lambda: kv.count(keys.workers()) >= len(WORKERS), 30,
                         f"{len(WORKERS)} workers")
        web = cluster.front_end(env(), logs / "gunicorn.log", HTTP_PORT).start()
        pids[web.name] = web.pid
        print(f"  {web.name:<9} pid {web.pid}  {web.url}")
    finally:
        base.mkdir(parents=True, exist_ok=True)
        _pids_file().write_text(json.dumps(pids))
    return 0


def stop(_args: argparse.Namespace | None = None) -> int:
    running = _running()
    for name in ("gunicorn", *WORKERS, "broker", "etcd"):
        pid = running.get(name)
        if pid:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and pid in _running().values():
                time.sleep(0.05)
            print(f"stopped {name} (pid {pid})")
    _pids_file().unlink(missing_ok=True)
    return 0


def status(_args: argparse.Namespace | None = None) -> int:
    running = _running()
    names = ("etcd", "broker", *WORKERS, "gunicorn")
    for name in names:
        pid = running.get(name)
        print(f"{name:<9} {'running, pid ' + str(pid) if pid else 'stopped'}")
    return 0 if len(running) == len(names) else 1


def run_example(args: argparse.Namespace) -> int:
    if len(_running()) < 3 + len(WORKERS):
        stop()
        start()
    text = examples.corpus()
    print(f"word count over {examples.CORPUS_DIR} ({len(text):,} characters)...")
    body = json.dumps({"arguments": {"text": text, "lines_per_chunk": args.lines_per_chunk}})
    started = time.monotonic()
    request = urllib.request.Request(f"http://127.0.0.1:{HTTP_PORT}/job/{examples.WORKFLOW}/"
                                     f"wordcount", data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as reply:
        result = json.load(reply)
    counts = dict(result["result"])
    elapsed = time.monotonic() - started
    print(f"request {result['request_id']} done in {elapsed:.2f}s: {len(counts):,} distinct "
          f"words, {sum(counts.values()):,} in all")
    for word, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:args.top]:
        print(f"  {count:>7,}  {word}")
    if counts != examples.count_locally(text):
        raise UserError("the distributed count differs from the in-process count")
    print("matches an in-process count of the same text")
    started = time.monotonic()
    request = urllib.request.Request(f"http://127.0.0.1:{HTTP_PORT}/job/{examples.WORKFLOW}/"
                                     f"wordcount_files", data=b'{"arguments": {}}',
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as reply:
        result = json.load(reply)
    print(f"the same files as a data job (split by the engine, two reducers): request "
          f"{result['request_id']} done in {time.monotonic() - started:.2f}s")
    if dict(result["result"]) != examples.count_locally(text):
        raise UserError("the data job's count differs from the in-process count")
    print("matches too")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mr_dev_cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("start", help="start etcd, the broker, a worker per core (two at least) "
                                 "and gunicorn")
    sub.add_parser("stop", help="stop every process of the dev cluster")
    sub.add_parser("status", help="show which processes run (exit 1 unless all do)")
    example = sub.add_parser("run-example", help="start if needed, then run a word count over "
                                                 "the licence texts and print the top words")
    example.add_argument("--top", type=int, default=20)
    example.add_argument("--lines-per-chunk", type=int, default=40)
    args = parser.parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "start": start, "stop": stop, "status": status, "run-example": run_example}
    return commands[args.command](args)


def console() -> None:
    run(main)


if __name__ == "__main__":
    sys.exit(main())
