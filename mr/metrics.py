"""Prometheus metrics: one module names them all; front-ends and workers expose them.

Front-ends run under gunicorn with several worker processes, so they use prometheus_client's
multiprocess mode: the gunicorn configs set PROMETHEUS_MULTIPROC_DIR (a fresh directory per
master) before any worker imports this module, and /metrics merges every process's files.
Workers are single processes and serve the default registry on their own port.
"""
from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily

from mr.config import MULTIPROC_ENV
from mr.kv import client as kv_client
from mr.queue import messages

REQUESTS = Counter("mr_requests_total", "Requests received by front-ends, by outcome "
                   "(submitted, reused, refused).", ["workflow", "job", "outcome"])
ENDED = Counter("mr_requests_ended_total", "Requests ended by this process, by final state.",
                ["workflow", "job", "state"])
INVOCATIONS = Counter("mr_invocations_total", "Invocation messages handled by workers, by "
                      "outcome.", ["workflow", "outcome"])
HANDLER_SECONDS = Histogram("mr_handler_seconds", "Time handlers took, by step and handler.",
                            ["workflow", "step", "handler"],
                            buckets=(.001, .005, .01, .05, .1, .5, 1, 5, 10, 60, 300))
IN_FLIGHT = Gauge("mr_invocations_in_flight", "Invocations a worker is running now.",
                  multiprocess_mode="livesum")
ETCD_SECONDS = Histogram("mr_etcd_request_seconds", "Latency of etcd calls, by method.",
                         ["method"], buckets=(.0005, .001, .002, .005, .01, .025, .05, .1,
                                              .25, 1, 5))


class QueueDepth:
    """Collects each topic/channel's depth from the brokers' /stats when scraped."""

    def __init__(self, http_hosts: list[str]):
        self.http_hosts = http_hosts

    def collect(self):
        depth = GaugeMetricFamily("mr_queue_depth", "Messages waiting in a broker, by topic "
                                  "and channel.", labels=["broker", "topic", "channel"])
        for host in self.http_hosts:
            try:
                with urllib.request.urlopen(f"http://{host}/stats?format=json",
                                            timeout=2) as reply:
                    stats = json.load(reply)
            except (OSError, ValueError):
                continue  # a broker that is down has no depth to report
            for topic in stats.get("topics", []):
                for channel in topic.get("channels", []):
                    depth.add_metric([host, topic["topic_name"], channel["channel_name"]],
                                     channel.get("depth", 0))
        yield depth


def exposition(broker_http_hosts: list[str] | None = None) -> tuple[str, bytes]:
    """(content type, body) for a front-end's /metrics: every process, plus queue depth."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY
        registry = REGISTRY
    if broker_http_hosts:
        registry = _with(registry, QueueDepth(broker_http_hosts))
    return CONTENT_TYPE_LATEST, generate_latest(registry)


def _with(registry: CollectorRegistry, collector) -> CollectorRegistry:
    combined = CollectorRegistry()
    combined.register(_Merged(registry, collector))
    return combined


class _Merged:
    def __init__(self, registry: CollectorRegistry, extra):
        self.registry, self.extra = registry, extra

    def collect(self):
        yield from self.registry.collect()
        yield from self.extra.collect()


def _observe_etcd(method: str, seconds: float) -> None:
    ETCD_SECONDS.labels(method).observe(seconds)


kv_client.observer = _observe_etcd


def counted(process: Callable[[bytes, str, int], str]) -> Callable[[bytes, str, int], str]:
    """A worker's message handler that counts outcomes ("done", "failed", "retry", ...)."""
    def handle(body: bytes, message_id: str, attempt: int) -> str:
        workflow = _workflow_of(body)
        try:
            outcome = process(body, message_id, attempt)
        except Exception as exc:
            INVOCATIONS.labels(workflow, "retry" if exc.__class__.__name__ == "Retry"
                               else "error").inc()
            raise
        INVOCATIONS.labels(workflow, outcome).inc()
        return outcome
    return handle


def _workflow_of(body: bytes) -> str:
    try:
        return messages.decode(body).workflow
    except messages.BadMessage:
        return "(not ours)"


def serve(port: int, broker_http_hosts: list[str]) -> int:
    """A worker's /metrics on `port` (0: any free port); returns the port."""
    from prometheus_client import REGISTRY
    REGISTRY.register(QueueDepth(broker_http_hosts))
    server, _thread = start_http_server(port, addr="0.0.0.0")
    return server.server_address[1]
