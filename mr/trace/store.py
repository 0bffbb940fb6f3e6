"""Read one request's trace records from etcd: the request, then its invocations page by page.

Messages say why a trace is missing: unknown workflow or request, or a request whose records
were cleaned up when it ended.
"""
from __future__ import annotations

from collections.abc import Iterator

from mr.kv import entities, keys
from mr.kv.client import KV
from mr.kv.models import Invocation, Request, as_shown, decode
from mr.trace.tree import TraceError, Tree, build

CLEANED_UP = ("request {rid} ended ({state}) and was cleaned up; run with MR_CLEANUP=0 to keep "
              "traces")


def load_request(kv: KV, workflow: str, rid: str) -> Request:
    entities.require_workflow(kv, workflow)
    entry = kv.get(keys.request(workflow, rid))
    if entry is None:
        raise TraceError(f"request {rid!r} does not exist in workflow {workflow!r}")
    return decode(Request, entry.value)


def invocations(kv: KV, request: Request) -> Iterator[Invocation]:
    """The request's invocations in key order, read a page at a time, as shown (`as_shown`)."""
    for entry in kv.scan(keys.invocations(request.workflow, request.id)):
        yield as_shown(decode(Invocation, entry.value), request.state)


def attempt_logs(kv: KV, workflow: str, rid: str, iid: str) -> dict[int, str]:
    """Attempt number -> what it printed, for attempts retried after a failure and for one
    running long (mr.engine.live_logs); the record's `log` is the last finished attempt's."""
    prefix = keys.attempt_logs(workflow, rid, iid)
    return {int(e.key[len(prefix):]): e.value.decode(errors="replace")
            for e in kv.scan(prefix)}


def with_logs(kv: KV, workflow: str, rid: str, inv: Invocation) -> dict:
    """The record as a dict, its `log` so far while it runs, and `attempt_logs`."""
    logs = attempt_logs(kv, workflow, rid, inv.id)
    data = dict(vars(inv))
    if data["log"] is None and inv.attempts in logs and inv.finished is None:
        data["log"] = logs[inv.attempts]     # running: what it printed so far
    data["attempt_logs"] = [{"attempt": n, "log": text} for n, text in sorted(logs.items())]
    return data


def require_trace(kv: KV, workflow: str, rid: str) -> Request:
    """The request, if its invocation records still exist (count-only read)."""
    request = load_request(kv, workflow, rid)
    if kv.count(keys.invocations(workflow, rid)) == 0:
        raise TraceError(CLEANED_UP.format(rid=rid, state=request.state))
    return request


def load_tree(kv: KV, workflow: str, rid: str) -> tuple[Request, Tree]:
    request = require_trace(kv, workflow, rid)
    return request, build(invocations(kv, request))
