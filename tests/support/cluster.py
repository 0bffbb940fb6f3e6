"""A whole engine of real processes for end-to-end tests: broker, workers, gunicorn.

etcd is shared by the test session (fixture `etcd`); each cluster gets its own workflows, so
tests stay isolated by key prefix and topic.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from mr import cluster
from mr.cluster import wait_for
from mr.kv import keys
from mr.kv.client import KV
from tests.support import shared_handlers

REPO = Path(__file__).resolve().parents[2]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@dataclass
class EngineCluster:
    tmp: Path
    etcd_address: str
    workflows: list[str]
    extra_env: dict[str, str] = field(default_factory=dict)
    broker: cluster.Service | None = None
    workers: list[cluster.Service] = field(default_factory=list)
    web: cluster.Service | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"MR_ETCD_HOSTS": self.etcd_address,
                "MR_NSQD_HOSTS": self.broker.address,
                "MR_NSQD_HTTP_HOSTS": self.broker.http_address,
                "MR_WORKFLOW_NAMES": ",".join(self.workflows),
                "MR_DATA_DIR": str(self.tmp / "data"),
                "MR_RESULT_DIR": str(self.tmp / "results"),
                "MR_REQUEST_TIMEOUT_S": "60",
                **self.extra_env}

    @functools.cached_property
    def kv(self) -> KV:
        """One client for the test process (each KV is a gRPC channel)."""
        return KV([self.etcd_address], timeout=10)

    def start_broker(self) -> None:
        self.broker = cluster.broker(self.tmp / "broker", self.tmp / "broker.log").start()

    def start_workers(self, count: int = 2, *args: str) -> list[cluster.Service]:
        kv = self.kv
        before = kv.count(keys.workers())
        started = []
        for _ in range(count):
            n = len(self.workers) + 1
            started.append(cluster.worker(f"worker{n}", self.env, self.tmp / f"worker{n}.log",
                                          "--concurrency", "4", *args).start())
            self.workers.append(started[-1])
        wait_for(lambda: kv.count(keys.workers()) >= before + count, timeout=30,
                 message=f"{count} worker(s) registered")
        return started

    def start_web(self) -> None:
        self.web = cluster.front_end(self.env, self.tmp / "gunicorn.log").start()

    def sync(self, workflow: str, directory: Path, *flags: str,
             shared: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        """Run the real mr_kv_handler_store script on `directory`, plus the `shared` handlers
        of tests/support/handlers/ (see tests.support.shared_handlers)."""
        if shared:
            directory = shared_handlers.combined(directory, shared,
                                                 self.tmp / "handlers" / workflow)
        return subprocess.run([sys.executable, "-m", "mr.cli.handler_store", workflow,
                               str(directory), *flags], env={**os.environ, **self.env},
                              capture_output=True, text=True, timeout=60)

    def post(self, workflow: str, job: str, arguments: dict, blocking: bool = True,
             timeout: float = 90) -> requests.Response:
        params = {} if blocking else {"blocking": "false"}
        return requests.post(f"{self.web.url}/job/{workflow}/{job}", json={"arguments": arguments},
                             params=params, timeout=timeout)

    def get_request(self, workflow: str, request_id: str) -> requests.Response:
        return requests.get(f"{self.web.url}/request/{workflow}/{request_id}", timeout=30)

    def wait_ended(self, workflow: str, request_id: str, timeout: float = 60) -> dict:
        def ended():
            body = self.get_request(workflow, request_id).json()
            return body if body.get("state") in ("done", "failed") else None
        return wait_for(ended, timeout=timeout, interval=0.05, message=f"request {request_id}")

    def stop(self) -> None:
        for service in [self.web, *self.workers, self.broker]:
            if service is not None:
                service.stop()


def start_cluster(tmp: Path, etcd_address: str, workflows: list[str],
                  extra_env: dict[str, str] | None = None) -> EngineCluster:
    """Start the broker; the caller defines its workflows, then starts workers and web."""
    engine = EngineCluster(tmp, etcd_address, workflows, dict(extra_env or {}))
    engine.start_broker()
    return engine
