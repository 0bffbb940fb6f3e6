"""This engine as the big-data benchmark's system: the cluster of benchmarks.compare (etcd,
mr_broker, two mr_worker processes, gunicorn), each worker running one data invocation at a
time (MR_DATA_CONCURRENCY=1: two cores, two workers).

A corpus is hard-linked into the workflow's shared filesystem (copied if the link fails) and
named in the POST: {"inputs": ["corpus/<file>"], "split_bytes": ...}. The time is the blocking
POST's, until its 200 reply; the answer is then read from the result's part files (its own
time is reported apart, as read_s). Handlers: benchmarks/handlers/bigdata, whose mappers call
the functions of benchmarks.bigdata_jobs every system runs (the workers import them from this
checkout), and handlers/wordcount's sum reducer.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import time
from pathlib import Path

from benchmarks import measure
from benchmarks.systems.mr_engine import REPO, WORKFLOW, MrEngine
from mr import fs
from mr.data import parts
from mr.kv import client as kv_client
from mr.kv import entities, keys
from mr.kv.models import Job, Step

CORPUS_DIR = "corpus"
JOBS = {"wordcount": ("bigdata_words", "bigdata_count_words", "wordcount_sum_reducer"),
        "index": ("bigdata_index", "bigdata_index_records", "bigdata_merge_ids")}
TIMEOUT_S = 7200


def post(address: str, path: str, body: dict, timeout: float = TIMEOUT_S) -> dict:
    """One blocking POST on a connection of its own; the reply's JSON body, or RuntimeError."""
    host, port = address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        reply = conn.getresponse()
        data = json.loads(reply.read())
    finally:
        conn.close()
    if reply.status != 200 or data.get("state") != "done":
        raise RuntimeError(f"POST {path} answered {reply.status}: {str(data)[:1000]}")
    return data


def place(source: str, directory: Path) -> str:
    """`source` inside the workflow's file area (a hard link, else a copy): its relative path."""
    target = directory / CORPUS_DIR / os.path.basename(source)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    return f"{CORPUS_DIR}/{target.name}"


def _await_sweeper(kv: kv_client.KV, timeout: float = 60.0) -> None:
    """Wait until a worker leads the sweeping: its election (a lease and a transaction per
    worker, a few seconds after start) is the cluster's, and counted during the first job it
    would make that job's etcd proposals look per-request."""
    deadline = time.monotonic() + timeout
    while kv.get(keys.sweeper(WORKFLOW)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no mr worker took the sweeper's key within {timeout:g} s")
        time.sleep(0.1)


class MrData:
    name = "mr"

    def __init__(self, options):
        self.options = options
        self.engine: MrEngine | None = None
        self.area: Path | None = None

    def describe(self) -> str:
        return (f"etcd, mr_broker, {self.options.processes} mr_worker (MR_DATA_CONCURRENCY=1), "
                f"gunicorn; blocking POST; {self.options.partitions} reduce partitions")

    def start(self, base: Path) -> None:
        shared = base / "shared"
        self.area = shared / WORKFLOW
        (self.area / CORPUS_DIR).mkdir(parents=True, exist_ok=True)
        self.engine = MrEngine(workers=self.options.processes, extra_env={
            "MR_SHARED_FS_URL": str(shared), "MR_DATA_CONCURRENCY": "1",
            "MR_REQUEST_TIMEOUT_S": str(TIMEOUT_S), "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))})
        self.engine.start(base)
        kv = kv_client.KV([self.engine.etcd.address])
        try:
            _await_sweeper(kv)
            for job, (step, mapper, reducer) in JOBS.items():
                entities.save(kv, Step(WORKFLOW, step, mapper=mapper, reducer=reducer,
                                       partitions=self.options.partitions))
                entities.save(kv, Job(WORKFLOW, f"bigdata_{job}", step, inputs=[CORPUS_DIR],
                                      split_bytes=self.options.split_bytes))
        finally:
            kv.close()

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.stop()

    def counters(self) -> dict[str, int]:
        """etcd's proposals and WAL bytes since it started; the driver takes differences."""
        address = self.engine.etcd.address
        return {"etcd_proposals": measure.etcd_proposals(address),
                "etcd_wal_bytes": int(measure.etcd_metric(address,
                                                          "etcd_disk_wal_write_bytes_total"))}

    def labels(self) -> dict[int, str]:
        engine = self.engine
        named = {engine.etcd.pid: "etcd", engine.broker.pid: "broker"}
        named.update({w.pid: f"worker{n}" for n, w in enumerate(engine.workers, 1)})
        named.update({s.pid: s.name for s in engine.services if s.pid not in named})
        return named

    def run(self, job: str, path: str) -> tuple[dict, dict]:
        body = {"arguments": {}, "inputs": [place(path, self.area)],
                "split_bytes": self.options.split_bytes}
        started = time.perf_counter()
        front = self.engine.client
        reply = post(f"{front.host}:{front.port}", f"/job/{WORKFLOW}/bigdata_{job}", body)
        seconds = time.perf_counter() - started
        area = fs.open_url(str(self.area))
        manifest = parts.read_manifest(area, reply["request_id"])
        answer = dict(parts.iter_pairs(area, manifest))
        return answer, {"seconds": seconds, "read_s": round(time.perf_counter() - started
                                                             - seconds, 3)}
