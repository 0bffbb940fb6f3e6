"""Metrics that handler code defines: `ctx.metrics.counter("rows_read", source="s3").inc()`.

Each name becomes a Prometheus metric of the worker (`mr_handler_<name>_total` for counters,
`mr_handler_<name>_seconds` for timers) labelled with the workflow and handler plus the
handler's own labels. A metric keeps the label names it was first used with, and at most
MAX_SERIES distinct label values: past that a handler gets HandlerMetricError instead of
a worker whose /metrics grows without bound (a request id as a label would do that).
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

MAX_SERIES = 100
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
BASE_LABELS = ("workflow", "handler")


class HandlerMetricError(ValueError):
    """A handler used a metric in a way that cannot be exported; the text says how to fix it."""


class HandlerMetrics:
    """Every handler metric of one worker process (prometheus_client's default registry)."""

    def __init__(self) -> None:
        # name: (metric, label names, kind)
        self._metrics: dict[str, tuple[Counter | Histogram, tuple[str, ...], str]] = {}
        self._series: dict[str, set[tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def bound(self, workflow: str, handler: str) -> BoundMetrics:
        return BoundMetrics(self, workflow, handler)

    def series(self, kind: str, name: str, base: tuple[str, str], labels: dict):
        if not NAME.match(name):
            raise HandlerMetricError(f"metric name {name!r}: use 1-64 lower-case letters, "
                                     f"digits and '_', starting with a letter")
        for label in labels:
            if not NAME.match(label) or label in BASE_LABELS:
                raise HandlerMetricError(f"label {label!r} of metric {name!r}: use lower-case "
                                         f"letters, digits and '_' (not {BASE_LABELS})")
        names = tuple(sorted(labels))
        values = tuple(str(labels[n]) for n in names)
        full = f"mr_handler_{name}"
        with self._lock:
            known = self._metrics.get(full)
            if known is None:
                metric = (Counter(full, f"Handler-defined counter {name}.", BASE_LABELS + names)
                          if kind == "counter" else
                          Histogram(full + "_seconds", f"Handler-defined timer {name}.",
                                    BASE_LABELS + names))
                known = self._metrics[full] = (metric, names, kind)
                self._series[full] = set()
            metric, first_names, first_kind = known
            if first_kind != kind or first_names != names:
                raise HandlerMetricError(
                    f"metric {name!r} was first used as a {first_kind} labelled "
                    f"{list(first_names)}; it cannot also be a {kind} labelled {list(names)}")
            series = self._series[full]
            if base + values not in series:
                if len(series) >= MAX_SERIES:
                    raise HandlerMetricError(
                        f"metric {name!r} has {MAX_SERIES} distinct label values already "
                        f"(the most a worker keeps): label by something with few values, "
                        f"not by ids")
                series.add(base + values)
        return metric.labels(*base, *values)


METRICS = HandlerMetrics()   # this process's


class BoundMetrics:
    """`ctx.metrics`: the worker's handler metrics, labelled with this workflow and handler."""

    def __init__(self, metrics: HandlerMetrics, workflow: str, handler: str):
        self._metrics, self._base = metrics, (workflow, handler)

    def counter(self, name: str, **labels):
        """A counter to `.inc(amount=1)`."""
        return self._metrics.series("counter", name, self._base, labels)

    @contextmanager
    def timer(self, name: str, **labels) -> Iterator[None]:
        """Time the block: `with ctx.metrics.timer("fetch", source="s3"): ...`."""
        series = self._metrics.series("timer", name, self._base, labels)
        began = time.monotonic()
        try:
            yield
        finally:
            series.observe(time.monotonic() - began)
