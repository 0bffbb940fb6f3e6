"""This engine as a compared system: etcd, mr_broker, two mr_worker processes and gunicorn.

Work goes in as the HTTP requests a user would POST (blocking, one keep-alive connection per
client thread);
the workflow "bench" holds the example handlers (handlers/numbers, handlers/wordcount) and the
benchmark's own (benchmarks/handlers/bench). etcd proposals and broker messages are counted
from the servers' own metrics, around each workload.
"""
from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path

from benchmarks import measure, workloads
from benchmarks.systems import running_services, stop_services
from mr import cluster, examples
from mr.handlers import sync
from mr.kv import client as kv_client
from mr.kv import entities, keys
from mr.kv.models import Job, Step, Workflow

REPO = Path(__file__).resolve().parents[2]
BENCH_HANDLERS = REPO / "benchmarks" / "handlers"
WORKFLOW = "bench"


def define(kv: kv_client.KV, workflow: str = WORKFLOW) -> None:
    """The example handlers and the benchmark's, their steps and one job per workload."""
    if entities.get_workflow(kv, workflow) is None:
        entities.create_workflow(kv, Workflow(workflow, "benchmarks/compare workloads"))
    for directory in (REPO / "handlers", BENCH_HANDLERS):
        for handler in sync.read_directory(workflow, directory):
            entities.save(kv, handler)
    steps = examples.steps(workflow) + [
        Step(workflow, "nested", mapper="bench_nest_root", reducer="numbers_total"),
        Step(workflow, "mid", mapper="bench_nest_mid", reducer="numbers_total"),
        Step(workflow, "one", mapper="bench_one_square", reducer="numbers_total"),
        Step(workflow, "words", mapper="bench_word_chunks", reducer="wordcount_sum_reducer"),
    ]
    jobs = [Job(workflow, name, name) for name in ("squares", "nested", "one", "words")]
    for definition in steps + jobs:
        entities.save(kv, definition)


class Client:
    """Blocking POSTs over one keep-alive HTTP connection (reopened if the server closed it)."""

    def __init__(self, base_url: str, timeout: float = 900):
        host, port = base_url.removeprefix("http://").split(":")
        self.host, self.port, self.timeout = host, int(port), timeout
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, arguments: dict) -> dict:
        """The reply's body: request_id, state and result."""
        body = json.dumps({"arguments": arguments})
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", path, body, {"Content-Type": "application/json"})
                reply = self.conn.getresponse()
                data = json.loads(reply.read())
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if reply.status != 200:
                raise RuntimeError(f"POST {path} answered {reply.status}: {data}")
            return data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class MrEngine:
    name = "mr"

    def __init__(self, concurrency: int = 64, workers: int = 2,
                 extra_env: dict[str, str] | None = None):
        self.concurrency, self.worker_count = concurrency, workers
        self.extra_env = dict(extra_env or {})
        self.services: list[cluster.Service] = []
        self.workers: list[cluster.Service] = []
        self.url = ""
        self._local = threading.local()   # each client thread's own connection
        self._clients: list[Client] = []
        self._clients_lock = threading.Lock()
        self.etcd = self.broker = None

    def describe(self) -> str:
        return (f"etcd, mr_broker, {self.worker_count} mr_worker (--concurrency "
                f"{self.concurrency}), gunicorn (2 gevent workers)")

    def start(self, base: Path) -> None:
        self.etcd = self._start(cluster.etcd(base / "etcd", base / "etcd.log"))
        self.broker = self._start(cluster.broker(base / "broker", base / "broker.log"))
        env = {"MR_ETCD_HOSTS": self.etcd.address, "MR_NSQD_HOSTS": self.broker.address,
               "MR_NSQD_HTTP_HOSTS": self.broker.http_address, "MR_WORKFLOW_NAMES": WORKFLOW,
               "MR_CONCURRENCY": str(self.concurrency), "MR_DATA_DIR": str(base / "data"),
               "MR_RESULT_DIR": str(base / "results"), "MR_REQUEST_TIMEOUT_S": "900",
               "MR_MAX_BODY_BYTES": str(4 * 1024 * 1024), **self.extra_env}
        kv = kv_client.KV([self.etcd.address])  # our own: client() is shared per process
        try:
            define(kv)
            for n in range(1, self.worker_count + 1):
                self.workers.append(self._start(
                    cluster.worker(f"worker{n}", env, base / f"worker{n}.log")))
            cluster.wait_for(lambda: kv.count(keys.workers()) >= self.worker_count, 60,
                             "mr workers registered in etcd")
        finally:
            kv.close()
        web = self._start(cluster.front_end(env, base / "gunicorn.log"))
        self.url = web.url

    @property
    def client(self) -> Client:
        """This thread's keep-alive connection to the front-end."""
        found = getattr(self._local, "client", None)
        if found is None:
            found = self._local.client = Client(self.url)
            with self._clients_lock:
                self._clients.append(found)
        return found

    def _start(self, service: cluster.Service) -> cluster.Service:
        self.services.append(service)
        return service.start(60)

    def stop(self) -> None:
        with self._clients_lock:
            for client in self._clients:
                client.close()
            self._clients.clear()
        stop_services(self.services)

    def worker_pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.alive()]

    def named_processes(self) -> dict[str, int]:
        """Every process of the cluster by name (each counts with its descendants)."""
        return running_services(self.services)

    def counters(self) -> dict[str, int]:
        """Cumulative etcd proposals and broker messages; the runner takes differences."""
        return {"etcd_proposals": measure.etcd_proposals(self.etcd.address),
                "nsq_messages": measure.broker_messages(self.broker.http_address)}

    # --- workloads -----------------------------------------------------------------------
    def post(self, job: str, arguments: dict) -> dict:
        return self.client.post(f"/job/{WORKFLOW}/{job}", arguments)

    def fanout(self, n: int) -> int:
        return _single_sum(self.post("squares", {"n": n})["result"])

    def nested(self, n: int) -> int:
        return _single_sum(self.post("nested", {"n": n, "mids": workloads.MIDS})["result"])

    def single(self, i: int) -> int:
        return _single_sum(self.post("one", {"n": i})["result"])

    def wordcount(self, chunks: list[str]) -> dict[str, int]:
        return dict(self.post("words", {"chunks": chunks})["result"])


def _single_sum(result: list) -> int:
    if not result:
        return 0  # a fan-out to zero children has an empty result
    if len(result) != 1 or result[0][0] != "sum":
        raise RuntimeError(f"expected [['sum', value]], got {str(result)[:200]}")
    return result[0][1]
