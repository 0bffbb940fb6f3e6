"""Read-only routes for following requests: progress, invocations and their logs, lists,
stats and metrics. Each takes the FrontEnd and the WSGI environ like the app's own routes."""
from __future__ import annotations

from mr import fs
from mr import metrics as prometheus
from mr.engine import buckets, listing, results
from mr.engine import progress as tracker
from mr.fs import traces
from mr.kv import keys
from mr.kv.client import op_get
from mr.kv.models import REQUEST_STATES, Invocation, Request, as_shown, decode
from mr.trace.store import with_logs
from mr.web.http import HttpError, Raw, page_window, query, whole


def progress(front_end, environ, workflow: str, request_id: str) -> tuple[int, dict]:
    front_end.workflow(workflow)
    invocation = query(environ, "invocation").get("invocation", "0")
    try:
        found = tracker.read(front_end.kv, workflow, request_id, invocation)
    except tracker.ProgressUnavailable as exc:
        raise HttpError(404, str(exc), request_id) from None
    return 200, found.as_dict()


def children(front_end, environ, workflow: str, request_id: str) -> tuple[int, dict]:
    """The children of the request's root (or of ?invocation=) grouped by how far along."""
    front_end.workflow(workflow)
    invocation_id = query(environ, "invocation").get("invocation", "0")
    try:
        return 200, buckets.by_progress(front_end.kv, workflow, request_id, invocation_id)
    except tracker.ProgressUnavailable as exc:
        raise HttpError(404, str(exc), request_id) from None
    except buckets.TooBig as exc:
        raise HttpError(422, str(exc), request_id) from None


def invocation(front_end, environ, workflow: str, request_id: str,
               invocation_id: str) -> tuple[int, dict]:
    """One invocation's record with its logs: from etcd, or from the request's trace document
    once its records are cleaned up (its record may be gone too)."""
    front_end.workflow(workflow)
    found = front_end.kv.txn([], [op_get(keys.request(workflow, request_id)),
                                  op_get(keys.invocation(workflow, request_id, invocation_id))])
    request, entry = found.entry(0), found.entry(1)
    if entry is not None and request is not None:
        inv = as_shown(decode(Invocation, entry.value), decode(Request, request.value).state)
        return 200, {"request_id": request_id, "workflow": workflow,
                     **with_logs(front_end.kv, workflow, request_id, inv)}
    finished = decode(Request, request.value).finished if request is not None else None
    kept = traces.open_document(fs.workflow_fs(front_end.settings, workflow), request_id,
                                  finished)
    if request is None and kept is None:
        raise HttpError(404, f"request {request_id!r} not found in workflow {workflow!r}",
                        request_id)
    data = kept.record(invocation_id) if kept is not None else None
    if data is None:
        raise HttpError(404, f"invocation {invocation_id!r} of request {request_id!r} not "
                             f"found (a done request's invocations are removed from etcd "
                             f"unless MR_CLEANUP=0, and its trace document is kept for "
                             f"MR_TRACE_RETENTION_S)", request_id)
    return 200, {"request_id": request_id, "workflow": workflow, **data}


def invocation_output(front_end, environ, workflow: str, request_id: str,
                      invocation_id: str) -> tuple[int, dict]:
    """One invocation's output a page at a time: ?offset=0&limit=1000."""
    front_end.workflow(workflow)
    offset, limit = page_window(query(environ, "offset", "limit"))
    entry = front_end.kv.get(keys.invocation(workflow, request_id, invocation_id))
    if entry is None:
        raise HttpError(404, f"invocation {invocation_id!r} of request {request_id!r} not "
                             f"found", request_id)
    inv = decode(Invocation, entry.value)
    wfs = fs.workflow_fs(front_end.settings, workflow)
    pairs = results.invocation_output(front_end.kv, wfs, workflow, request_id, inv)
    if pairs is None:
        raise HttpError(404, f"invocation {invocation_id} has no stored output: "
                             f"{results.no_output_why(inv)}", request_id)
    found, following = pairs[offset:offset + limit], offset + limit
    return 200, {"request_id": request_id, "invocation": invocation_id, "offset": offset,
                 "total": len(pairs), "pairs": found,
                 "next": following if following < len(pairs) else None}


def requests(front_end, environ, workflow: str) -> tuple[int, dict]:
    front_end.workflow(workflow)
    q = query(environ, "state", "job", "limit", "name")
    state, job = q.get("state") or None, q.get("job") or None
    if state is not None and state not in REQUEST_STATES:
        raise HttpError(400, f"state={state!r}: use one of {', '.join(REQUEST_STATES)}")
    limit = whole(q, "limit", 100, least=1)
    found = listing.list_requests(front_end.kv, workflow, state, job, limit,
                                  q.get("name") or None)
    return 200, {"workflow": workflow, "requests": [summary(r) for r in found]}


def summary(request) -> dict:
    return {"request_id": request.id, "job": request.job, "state": request.state,
            "name": request.name, "created": request.created, "finished": request.finished,
            "failed_at": (request.failure or {}).get("invocation"), "counts": request.counts}


def stats(front_end, environ, workflow: str) -> tuple[int, dict]:
    front_end.workflow(workflow)
    return 200, listing.stats(front_end.kv, workflow)


def metrics(front_end, environ) -> tuple[int, Raw]:
    content_type, payload = prometheus.exposition(front_end.settings.nsqd_http_hosts)
    return 200, Raw(content_type, payload)
