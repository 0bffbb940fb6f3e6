"""The web view under /ui/: pages rendered on the server, a little JavaScript, live updates
as Server-Sent Events (mr/web/ui_sse.py). Static files come from resources/static (nginx
serves that directory in production).

    GET /ui/                                           the workflows
    GET /ui/<wf>/                                      overview: requests by state, recent
                                                       requests, live workers, queue depth
    GET /ui/<wf>/events                                its live updates (SSE)
    GET /ui/<wf>/request/<id>                          one request: progress, failure, tree
    GET /ui/<wf>/request/<id>/events                   its live updates (SSE)
    GET /ui/<wf>/request/<id>/children?of=<iid>&start=N   a page of a node's children (HTML)
    GET /ui/<wf>/request/<id>/invocation/<iid>         an invocation's record and log (JSON)
    GET /ui/<wf>/request/<id>/graph.svg                the graphviz drawing
    GET /ui/static/<file>

Retry and cancel buttons call the JSON API (POST /request/<wf>/<id>/retry, DELETE
/request/<wf>/<id>). Authentication: see mr/web/ui_http.py.
"""
from __future__ import annotations

import re

from mr import fs
from mr.engine import progress as tracker
from mr.engine import results
from mr.errors import UserError
from mr.fs import traces
from mr.kv import entities, keys
from mr.kv.models import DONE, ROOT_INVOCATION, Request, decode
from mr.trace import store
from mr.trace.store import Source
from mr.web import tracking, ui_data, ui_graph, ui_render, ui_sse
from mr.web.http import HttpError, Raw, query
from mr.web.ui_http import HTML, event_stream, page, static

IID = re.compile(r"^[0-9]+(\.([0-9]+|r))*$")


def _request(front_end, wf: str, rid: str) -> Request:
    """The request's record, or its trace document's copy once the record is removed."""
    front_end.workflow(wf)
    entry = front_end.kv.get(keys.request(wf, rid))
    if entry is not None:
        return decode(Request, entry.value)
    kept = traces.open_document(fs.workflow_fs(front_end.settings, wf), rid)
    if kept is None:
        raise HttpError(404, f"request {rid!r} not found in workflow {wf!r}")
    return kept.request


def _source(front_end, request: Request) -> Source | None:
    """Where the request's invocations are read (etcd, or its trace document); None: nowhere."""
    return store.source(front_end.kv, request,
                        fs.workflow_fs(front_end.settings, request.workflow))


def index(front_end, environ):
    allowed = front_end.settings.workflow_names
    found = [w for w in entities.list_workflows(front_end.kv)
             if not allowed or w.name in allowed]
    items = "".join(f'<li><a href="/ui/{ui_render.h(w.name)}/">{ui_render.h(w.name)}</a> '
                    f'<span class="hint">{ui_render.h(w.description)}</span></li>'
                    for w in found) or '<li class="hint">No workflow yet.</li>'
    main = f'<h1>Workflows</h1><section class="panel"><ul class="workflows">{items}</ul></section>'
    return 200, page(environ, ui_render.document("index", "workflows", [], main, {}))


def overview(front_end, environ, workflow: str):
    front_end.workflow(workflow)
    kv = front_end.kv
    main = ui_render.template("ui_overview.html").substitute(
        workflow=ui_render.h(workflow),
        counts=ui_render.counts(ui_data.state_counts(kv, workflow)),
        rows=ui_render.request_rows(workflow, ui_data.recent(kv, workflow)),
        workers=ui_render.workers(ui_data.workers(kv, workflow)),
        queues=ui_render.queues(ui_data.queues(front_end.settings.nsqd_http_hosts, workflow)))
    data = {"workflow": workflow, "recent": ui_data.RECENT}
    return 200, page(environ, ui_render.document("overview", workflow, [(workflow, None)], main,
                                                 data, "overview.js"))


def overview_events(front_end, environ, workflow: str):
    front_end.workflow(workflow)
    return 200, event_stream(ui_sse.overview_stream(front_end, workflow))


def request_page(front_end, environ, workflow: str, request_id: str):
    request = _request(front_end, workflow, request_id)
    kv = front_end.kv
    progress: tracker.Progress | None
    try:
        progress = tracker.read(kv, workflow, request_id)
    except tracker.ProgressUnavailable:
        progress = ui_data.ended_progress(request)
    failed = (request.failure or {}).get("invocation")
    found = _source(front_end, request)
    tree = _tree(found, failed)
    base = f"/ui/{workflow}/request/{request_id}"
    drawable = found is not None
    main = ui_render.template("ui_request.html").substitute(
        rid=ui_render.h(request_id), summary=ui_render.summary(request),
        progress=ui_render.progress_panel(progress), failure=ui_render.failure(request),
        result=_result(front_end, request), tree=tree,
        graph=ui_render.graph_panel(
            f"{base}/graph.svg", f"Requests of more than {ui_graph.FULL} invocations are drawn "
                                 f"{ui_graph.DEPTH} levels deep, {ui_graph.FAN} children a "
                                 f"node.", drawable))
    data = {"workflow": workflow, "request_id": request_id, "state": request.state,
            "failed": failed, "base": base}
    crumbs = [(workflow, f"/ui/{workflow}/"), (f"request {request_id[:12]}", None)]
    return 200, page(environ, ui_render.document("request", f"request {request_id[:12]}",
                                                 crumbs, main, data, "request.js"))


def _result(front_end, request: Request) -> str:
    if request.state != DONE:
        return ""
    try:
        pairs, total = results.page(request, fs.workflow_fs(front_end.settings,
                                                            request.workflow),
                                    0, ui_render.RESULT_ROWS)
    except (OSError, ValueError) as exc:   # a result file gone or unreadable
        return ui_render.result_panel(request, [], 0, str(exc))
    return ui_render.result_panel(request, pairs, total)


def _tree(found: Source | None, failed: str | None) -> str:
    """The root, expanded on its first page of children, and the path down to the failed
    invocation expanded on the pages that hold it."""
    if found is None:
        return f'<p class="hint">No tree: {ui_render.h(ui_render.NO_TRACE)}</p>'
    path = ui_data.path_to(failed) or [ROOT_INVOCATION]
    below = path[1:] + [failed]  # the node to show under each expanded one
    records = ui_data.read_invocations(found, path)
    boxes: dict[str, str] = {}
    for iid, child in reversed(list(zip(path, below))):
        inv = records.get(iid)
        if inv is None:
            continue
        start = ui_data.page_start(child, inv) if child else 0
        page_ = ui_data.child_page(found, iid, start, parent_inv=inv)
        boxes[iid] = ui_render.child_page(page_, failed, boxes)
    top = ui_data.child_page(found, ui_data.TOP)
    if not top.nodes:
        return f'<p class="hint">No tree: {ui_render.h(ui_render.NO_TRACE)}</p>'
    kept = (f'<p class="hint kept">{ui_render.h(ui_render.KEPT)}</p>'
            if found.kept is not None else "")
    return kept + ui_render.child_page(top, failed, boxes)


def request_events(front_end, environ, workflow: str, request_id: str):
    _request(front_end, workflow, request_id)
    return 200, event_stream(ui_sse.request_stream(front_end, workflow, request_id))


def children(front_end, environ, workflow: str, request_id: str):
    request = _request(front_end, workflow, request_id)
    q = query(environ, "of", "start")
    parent = q.get("of", ROOT_INVOCATION)
    if parent != ui_data.TOP and not IID.match(parent):
        raise HttpError(400, f"of={parent!r} is not an invocation id (like 0.3.17)")
    try:
        start = int(q.get("start", "0"))
    except ValueError:
        raise HttpError(400, f"start={q['start']!r} is not a number") from None
    source = _source(front_end, request)
    if source is None:
        raise HttpError(404, f"request {request_id} has no trace left: {ui_render.NO_TRACE}")
    found = ui_data.child_page(source, parent, start)
    failed = (request.failure or {}).get("invocation")
    return 200, Raw(HTML, ui_render.child_page(found, failed).encode())


def graph(front_end, environ, workflow: str, request_id: str):
    request = _request(front_end, workflow, request_id)
    found = _source(front_end, request)
    if found is None:
        raise HttpError(404, f"request {request_id} has nothing left to draw: "
                             f"{ui_render.NO_TRACE}")
    try:
        return 200, Raw("image/svg+xml", ui_graph.svg(found))
    except UserError as exc:
        raise HttpError(503, str(exc), request_id) from None


_WF = r"(?P<workflow>[^/]+)"
_REQ = _WF + r"/request/(?P<request_id>[^/]+)"
ROUTES = [
    ("GET", r"^/ui/?$", index),
    ("GET", r"^/ui/static/(?P<name>[^/]+)$", static),
    ("GET", rf"^/ui/{_WF}/?$", overview),
    ("GET", rf"^/ui/{_WF}/events$", overview_events),
    ("GET", rf"^/ui/{_REQ}/?$", request_page),
    ("GET", rf"^/ui/{_REQ}/events$", request_events),
    ("GET", rf"^/ui/{_REQ}/children$", children),
    ("GET", rf"^/ui/{_REQ}/invocation/(?P<invocation_id>[^/]+)$", tracking.invocation),
    ("GET", rf"^/ui/{_REQ}/graph\.svg$", graph),
]
