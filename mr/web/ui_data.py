"""What the web view shows, read from etcd (and the brokers, and the workers' /metrics).

Nothing here loads a whole request: a node's children are read a page at a time by their ids
("<parent>.<i>", dense from 0, and "<parent>.r" for its reduction), so a page costs one
transaction whatever the size of the subtrees below it.
"""
from __future__ import annotations

import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mr.engine import listing
from mr.engine import progress as tracker
from mr.engine.registry import live_workers
from mr.kv import keys
from mr.kv.client import op_get
from mr.kv.models import (
    REDUCE_SUFFIX,
    REQUEST_STATES,
    ROOT_INVOCATION,
    RUNNING,
    Invocation,
    Request,
    child_id,
    parent_of,
    reduce_id,
)
from mr.kv.store import Store
from mr.metrics import QueueDepth
from mr.queue.topics import PREFIX as TOPIC_PREFIX
from mr.trace.store import Source

PAGE = 100                  # children shown at once under a node
TOP = "^"                   # the parent of the root in the view: its one child is "0"
RECENT = 20                 # requests on the overview
LOAD_TIMEOUT_S = 0.5        # a worker's /metrics that does not answer by then shows no load
IN_FLIGHT = re.compile(r"^mr_invocations_in_flight(?:\{[^}]*\})?\s+([0-9.eE+-]+)\s*$", re.M)


@dataclass
class ChildPage:
    """Children `start`..`start+len(nodes)-1` of `parent` (and its reduction on the last page)."""
    parent: str
    start: int
    nodes: list[Invocation]
    total: int | None           # children the parent made, when known (None: still fanning out)
    more: bool                  # a later page exists

    @property
    def end(self) -> int:
        return self.start + len([n for n in self.nodes if not n.id.endswith(REDUCE_SUFFIX)])


def read_invocations(found: Source, ids: list[str]) -> dict[str, Invocation]:
    """The request's invocations of these ids that exist, as shown (`as_shown`)."""
    return found.read(ids)


def child_page(found: Source, parent: str, start: int = 0,
               limit: int = PAGE, parent_inv: Invocation | None = None) -> ChildPage:
    """One page of `parent`'s children in id order; TOP gives the root alone."""
    if parent == TOP:
        root = read_invocations(found, [ROOT_INVOCATION])
        return ChildPage(TOP, 0, list(root.values()), 1, False)
    if parent_inv is None:
        parent_inv = read_invocations(found, [parent]).get(parent)
    total = parent_inv.children if parent_inv is not None else None
    start, limit = max(start, 0), max(1, min(limit, PAGE))
    stop = start + limit if total is None else min(start + limit, total)
    ids = [child_id(parent, i) for i in range(start, stop)]
    last = total is not None and stop >= total
    if last:
        ids.append(reduce_id(parent))
    records = read_invocations(found, ids)
    nodes = [records[i] for i in ids if i in records]
    more = (stop < total) if total is not None else len(nodes) == limit
    return ChildPage(parent, start, nodes, total, more)


def page_start(child: str, parent_inv: Invocation | None) -> int:
    """The start of the page of its parent's children that holds `child`."""
    last = child.rsplit(".", 1)[-1]
    if last.isdigit():
        return int(last) // PAGE * PAGE
    children = (parent_inv.children if parent_inv else None) or 0
    return max(children - 1, 0) // PAGE * PAGE  # the reduction sits on the last page


def path_to(iid: str | None) -> list[str]:
    """The ids from the root down to `iid`'s parent (a reduction hangs under its mapper)."""
    path = []
    current = iid
    while current and current != ROOT_INVOCATION:
        current = current[:-len(REDUCE_SUFFIX)] if current.endswith(REDUCE_SUFFIX) \
            else parent_of(current)
        if current:
            path.append(current)
    return list(reversed(path))


# --- the overview -----------------------------------------------------------------------
def state_counts(kv: Store, wf: str) -> dict[str, int]:
    """Requests by state: one count-only range per state, in one transaction."""
    result = kv.txn([], [op_get(keys.by_state(wf, s), prefix=True, count_only=True)
                         for s in REQUEST_STATES])
    return {s: result.count(i) for i, s in enumerate(REQUEST_STATES)}


@dataclass
class Row:
    request: Request
    progress: tracker.Progress | None = None

    @property
    def id(self) -> str:
        return self.request.id


def row(kv: Store, request: Request) -> Row:
    """A request with its progress: counted now while it runs, its kept counts once ended."""
    if request.state == RUNNING:
        try:
            return Row(request, tracker.read(kv, request.workflow, request.id))
        except tracker.ProgressUnavailable:
            return Row(request)
    return Row(request, ended_progress(request))


def ended_progress(request: Request) -> tracker.Progress | None:
    if not request.counts:
        return None
    counts = dict(request.counts)
    total = sum(counts.values())
    return tracker.Progress(request.workflow, request.id, ROOT_INVOCATION, request.state,
                            counts, total, round(100.0 * counts.get("done", 0) / total, 1)
                            if total else 0.0, request.created, request.finished,
                            (request.finished or request.created) - request.created,
                            tallies=request.tallies)


def recent(kv: Store, wf: str, limit: int = RECENT) -> list[Row]:
    return [row(kv, r) for r in listing.list_requests(kv, wf, limit=limit)]


@dataclass
class WorkerView:
    info: dict
    in_flight: float | None = None   # None: its /metrics did not answer

    @property
    def load(self) -> float | None:
        concurrency = self.info.get("concurrency") or 0
        if self.in_flight is None or not concurrency:
            return None
        return self.in_flight / concurrency


def in_flight(info: dict) -> float | None:
    port = info.get("metrics_port")
    if not port:
        return None
    try:
        with urllib.request.urlopen(f"http://{info.get('host') or '127.0.0.1'}:{port}/metrics",
                                    timeout=LOAD_TIMEOUT_S) as reply:
            text = reply.read(1 << 20).decode(errors="replace")
    except (OSError, ValueError):
        return None
    match = IN_FLIGHT.search(text)
    return float(match.group(1)) if match else None


def workers(kv: Store, wf: str) -> list[WorkerView]:
    """Live workers serving `wf`, with what they run now (asked of their /metrics at once)."""
    serving = [w for w in live_workers(kv) if wf in w.get("workflows", ())]
    if not serving:
        return []
    with ThreadPoolExecutor(max_workers=min(len(serving), 16)) as pool:
        loads = list(pool.map(in_flight, serving))
    return [WorkerView(info, load) for info, load in zip(serving, loads)]


@dataclass
class Queues:
    rows: list[tuple[str, str, str, float]] = field(default_factory=list)  # broker, topic, ...
    brokers: int = 0


def queues(http_hosts: list[str], wf: str) -> Queues:
    """Depth of each of the workflow's topic/channels, from every broker's /stats."""
    prefix = f"{TOPIC_PREFIX}.{wf}."
    rows = []
    for family in QueueDepth(http_hosts).collect():
        for sample in family.samples:
            labels = sample.labels
            if labels["topic"].startswith(prefix):
                rows.append((labels["broker"], labels["topic"], labels["channel"], sample.value))
    return Queues(sorted(rows), len(http_hosts))
