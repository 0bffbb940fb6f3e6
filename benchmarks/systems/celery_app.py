"""The Celery application the Celery peer runs: its worker process imports this module.

Broker and result backend are the Redis server the benchmark started, named by
MR_BENCH_REDIS_URL (the worker's environment) or configure() (the benchmark process). Task
bodies are the plain functions of benchmarks.workloads.
"""
from __future__ import annotations

import os

from celery import Celery

from benchmarks import workloads

app = Celery("mr_bench")
app.conf.update(broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
                result_expires=600)

square = app.task(name="bench.square")(workloads.square)
total = app.task(name="bench.total")(workloads.total)
count_chunk = app.task(name="bench.count_chunk")(workloads.count_chunk)
merge_counts = app.task(name="bench.merge_counts")(workloads.merge_counts)


def configure(redis_url: str) -> Celery:
    """Point the app at a Redis server: broker and result backend alike."""
    app.conf.update(broker_url=redis_url, result_backend=redis_url)
    return app


if os.environ.get("MR_BENCH_REDIS_URL"):
    configure(os.environ["MR_BENCH_REDIS_URL"])
