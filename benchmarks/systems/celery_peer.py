"""Celery 5 as a compared system: a Redis server (broker and result backend, no persistence)
and one `celery worker` with two prefork processes, each workload written as a user would:
a chord of one task per part with a summing callback.

A chord's result is read with get(follow_parents=False): by default get() re-reads every
header task's state from Redis at each poll interval to re-raise a failed parent, which costs
the client O(N) Redis reads per interval and made a 10,000-part chord ~8x slower here.
"""
from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

from benchmarks import measure, workloads
from benchmarks.systems import running_services, stop_services
from mr import cluster

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 900


def _wait(result):
    return result.get(timeout=TIMEOUT_S, follow_parents=False)


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_server(base: Path) -> cluster.Service:
    """Debian's redis-server on a free loopback port: no RDB snapshots, no append-only file."""
    port = cluster.free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    base.mkdir(parents=True, exist_ok=True)
    return cluster.Service("redis", [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(base), "--daemonize", "no", "--protected-mode", "yes"],
        base / "redis.log", lambda: redis_ping(port), address=f"127.0.0.1:{port}")


class CeleryPeer:
    name = "celery"

    def __init__(self, processes: int = 2):
        self.processes = processes
        self.services: list[cluster.Service] = []
        self.worker: cluster.Service | None = None
        self.app = None

    def describe(self) -> str:
        import celery
        return (f"Celery {celery.__version__}, 1 worker --pool prefork --concurrency "
                f"{self.processes}, Redis (broker + results, no persistence)")

    def start(self, base: Path) -> None:
        from benchmarks.systems import celery_app

        redis = redis_server(base / "redis").start(30)
        self.services.append(redis)
        url = f"redis://{redis.address}/0"
        self.app = celery_app.configure(url)
        env = {"MR_BENCH_REDIS_URL": url,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                           os.environ.get("PYTHONPATH")]))}
        self.worker = cluster.Service("celery", [
            sys.executable, "-m", "celery", "-A", "benchmarks.systems.celery_app", "worker",
            "--pool", "prefork", "--concurrency", str(self.processes), "--loglevel", "WARNING",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", "bench@%h"],
            base / "celery.log", env=env)
        self.services.append(self.worker)
        self.worker.start()
        cluster.wait_for(lambda: self.app.control.ping(timeout=0.5), 60, "the Celery worker",
                         self.worker.proc, self.worker.log_path)

    def stop(self) -> None:
        stop_services(self.services)

    def worker_pids(self) -> list[int]:
        if self.worker is None or not self.worker.alive():
            return []
        return [self.worker.pid, *measure.children(self.worker.pid)]

    def named_processes(self) -> dict[str, int]:
        """Redis and the Celery worker (its pool processes count as its descendants)."""
        return running_services(self.services)

    def counters(self) -> dict[str, int]:
        return {}

    # --- workloads -----------------------------------------------------------------------
    def fanout(self, n: int) -> int:
        from celery import chord

        from benchmarks.systems.celery_app import square, total
        return _wait(chord([square.s(i) for i in range(n)])(total.s()))

    def nested(self, n: int) -> int:
        from celery import chord

        from benchmarks.systems.celery_app import square, total
        mids = [chord([square.s(i) for i in range(low, high)], total.s())
                for low, high in workloads.mid_ranges(n)]
        return _wait(chord(mids)(total.s()))

    def single(self, i: int) -> int:
        from benchmarks.systems.celery_app import square
        return _wait(square.delay(i))

    def wordcount(self, chunks: list[str]) -> dict[str, int]:
        from celery import chord

        from benchmarks.systems.celery_app import count_chunk, merge_counts
        return _wait(chord([count_chunk.s(c) for c in chunks])(merge_counts.s()))
