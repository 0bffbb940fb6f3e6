"""Read one request's trace: from etcd while its records exist (a page at a time), else from
the trace document its end left in the workflow's shared filesystem (mr.fs.traces).

Messages say why a trace is missing: unknown workflow or request, or a request whose records
were cleaned up when it ended and whose document is gone too (or was never written).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from mr.fs import WorkflowFS
from mr.fs.traces import Document, open_document
from mr.kv import entities, keys
from mr.kv.client import op_get
from mr.kv.models import Invocation, Request, as_shown, decode
from mr.kv.store import Store
from mr.trace.tree import TraceError, Tree, build

CLEANED_UP = ("request {rid} ended ({state}) and was cleaned up, and no trace document of it "
              "is kept (MR_TRACE_RETENTION_S: 0, or it expired; MR_CLEANUP=0 keeps every "
              "record in etcd)")
BATCH = 100   # invocations read by id in one transaction


def load_request(kv: Store, workflow: str, rid: str, wfs: WorkflowFS | None = None) -> Request:
    """The request's record; with `wfs`, its trace document's copy once the record is gone."""
    entities.require_workflow(kv, workflow)
    entry = kv.get(keys.request(workflow, rid))
    if entry is not None:
        return decode(Request, entry.value)
    kept = open_document(wfs, rid) if wfs is not None else None
    if kept is None:
        raise TraceError(f"request {rid!r} does not exist in workflow {workflow!r}")
    return kept.request


def invocations(kv: Store, request: Request) -> Iterator[Invocation]:
    """The request's invocations in key order, read a page at a time, as shown (`as_shown`)."""
    for entry in kv.scan(keys.invocations(request.workflow, request.id)):
        yield as_shown(decode(Invocation, entry.value), request.state)


def attempt_logs(kv: Store, workflow: str, rid: str, iid: str) -> dict[int, str]:
    """Attempt number -> what it printed, for attempts retried after a failure and for one
    running long (mr.engine.live_logs); the record's `log` is the last finished attempt's."""
    prefix = keys.attempt_logs(workflow, rid, iid)
    return {int(e.key[len(prefix):]): e.value.decode(errors="replace")
            for e in kv.scan(prefix)}


def with_logs(kv: Store, workflow: str, rid: str, inv: Invocation) -> dict:
    """The record as a dict, its `log` so far while it runs, and `attempt_logs`."""
    logs = attempt_logs(kv, workflow, rid, inv.id)
    data = dict(vars(inv))
    if data["log"] is None and inv.attempts in logs and inv.finished is None:
        data["log"] = logs[inv.attempts]     # running: what it printed so far
    data["attempt_logs"] = [{"attempt": n, "log": text} for n, text in sorted(logs.items())]
    return data


class Source:
    """Where a request's invocations are read: etcd, or its document when `kept` is set."""

    def __init__(self, kv: Store, request: Request, kept: Document | None = None):
        self.kv, self.request, self.kept = kv, request, kept

    def invocations(self) -> Iterator[Invocation]:
        """Every invocation, as shown, in key order."""
        if self.kept is not None:
            return self.kept.invocations()
        return invocations(self.kv, self.request)

    def read(self, ids: Iterable[str]) -> dict[str, Invocation]:
        """The invocations of these ids that exist, as shown."""
        ids = list(ids)
        if self.kept is not None:
            return {inv.id: inv for inv in self.kept.invocations(ids)}
        wf, rid = self.request.workflow, self.request.id
        found: dict[str, Invocation] = {}
        for begin in range(0, len(ids), BATCH):
            chunk = ids[begin:begin + BATCH]
            result = self.kv.txn([], [op_get(keys.invocation(wf, rid, iid)) for iid in chunk])
            for i, iid in enumerate(chunk):
                entry = result.entry(i)
                if entry is not None:
                    found[iid] = as_shown(decode(Invocation, entry.value), self.request.state)
        return found

    def count(self) -> int:
        if self.kept is not None:
            return sum(1 for _ in self.kept.records())
        return self.kv.count(keys.invocations(self.request.workflow, self.request.id))

    def record(self, iid: str) -> dict | None:
        """One invocation as shown, with its log so far and `attempt_logs` (with_logs)."""
        if self.kept is not None:
            return self.kept.record(iid)
        entry = self.kv.get(keys.invocation(self.request.workflow, self.request.id, iid))
        if entry is None:
            return None
        inv = as_shown(decode(Invocation, entry.value), self.request.state)
        return with_logs(self.kv, self.request.workflow, self.request.id, inv)


def source(kv: Store, request: Request, wfs: WorkflowFS | None) -> Source | None:
    """etcd's records while any exist (count-only read), else the request's kept document;
    None when neither is there."""
    if kv.count(keys.invocations(request.workflow, request.id)) > 0:
        return Source(kv, request)
    kept = open_document(wfs, request.id, request.finished) if wfs is not None else None
    return Source(kv, request, kept) if kept is not None else None


def require_trace(kv: Store, workflow: str, rid: str,
                  wfs: WorkflowFS | None = None) -> tuple[Request, Source]:
    """The request and where its trace is read; TraceError (CLEANED_UP) when it has none."""
    request = load_request(kv, workflow, rid, wfs)
    found = source(kv, request, wfs)
    if found is None:
        raise TraceError(CLEANED_UP.format(rid=rid, state=request.state))
    return request, found


def load_tree(kv: Store, workflow: str, rid: str,
              wfs: WorkflowFS | None = None) -> tuple[Request, Tree]:
    request, found = require_trace(kv, workflow, rid, wfs)
    return request, build(found.invocations())
