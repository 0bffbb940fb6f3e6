"""The front-end: a plain WSGI app run by gunicorn's gevent workers (`mr.web.app:app`).

    POST   /job/<workflow>/<job>[?blocking=false][&name=N[&recompute=true]]  {"arguments": {}}
    GET    /request/<workflow>/<id>[?wait=<seconds>]
    DELETE /request/<workflow>/<id>[?reason=<text>]     cancel
    POST   /request/<workflow>/<id>/retry[?blocking=true]
    POST   /request/<workflow>/<id>/rerun?invocations=<iid>,<iid>[&blocking=true]
                                                 an ended request's subtrees again
    POST   /request/<workflow>/<id>/pause, .../resume    start nothing more / go on
    GET    /request/<workflow>/<id>/progress[?invocation=<iid>]
    GET    /request/<workflow>/<id>/children[?invocation=<iid>]   children by how far along
    GET    /request/<workflow>/<id>/invocation/<iid>    record with its captured log
    GET    /request/<workflow>/<id>/invocation/<iid>/output[?offset=&limit=]   its output
    GET    /requests/<workflow>[?state=S][&job=J][&limit=N]
    GET    /stats/<workflow>
    GET    /metrics                                     Prometheus
    GET    /ui/...                                      the web view (mr/web/ui.py)
    GET    /                                            liveness

Every error is JSON: {"error": "...", ...}, with the request id in X-MR-REQUEST-ID when there
is one.
"""
from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from http import HTTPStatus

import gevent

from mr import config, fs, metrics, values
from mr.engine import events, listing
from mr.engine.results import has_manifest, page, read_result
from mr.engine.submit import SubmitError, fail, new_request_id, submit
from mr.handlers.library import Library
from mr.kv import client as kv_client
from mr.kv import keys
from mr.kv.client import EtcdUnavailable
from mr.kv.models import DONE, RUNNING, Request, ResultWriter, decode
from mr.notify import Notifier
from mr.queue.publisher import Publisher
from mr.web import auth, controls, tracking, ui, ui_http
from mr.web.http import PAGE, HttpError, Raw, flag, page_window, query, request_path
from mr.web.waiter import RequestWaiter

BODY_FIELDS = {"arguments", "inputs", "split_bytes", "expected_s"}
# A failed request's HTTP status by its failure's reason; others (engine, queue) are 503
FAILURE_STATUS = {"handler": 500, "input": 422, "storage": 507, "timeout": 504,
                  "cancelled": 409}

log = logging.getLogger(__name__)


def _cooperate_with_gevent() -> None:
    """Under gunicorn's gevent worker grpc must be told about gevent before it is first used."""
    try:
        from gevent import monkey
    except ImportError:
        return
    if monkey.is_module_patched("socket"):
        kv_client.init_gevent()


_cooperate_with_gevent()


class FrontEnd:
    """Per-process state, created lazily on the first request (never before gunicorn forks)."""

    def __init__(self, settings: config.Settings):
        self.settings = settings
        self.kv = kv_client.client(settings.etcd_hosts, settings.etcd_timeout_s)
        self.publisher = Publisher.from_settings(settings)
        self.hostname = socket.gethostname()
        self.name = settings.front_end_name or self.hostname
        self.notifier = _notifier(settings)
        self._workflows: dict[str, tuple[Library, RequestWaiter]] = {}
        self._lock = threading.Lock()

    def workflow(self, name: str) -> tuple[Library, RequestWaiter]:
        found = self._workflows.get(name)
        if found is not None:
            return found
        allowed = self.settings.workflow_names
        if allowed and name not in allowed:
            raise HttpError(404, f"workflow {name!r} not found among those this front-end "
                                 f"serves ({', '.join(allowed)})")
        if not keys.NAME_RE.match(name):
            raise HttpError(404, f"workflow {name!r} not found")
        with self._lock:
            if name not in self._workflows:
                if self.kv.get(keys.workflow(name)) is None:
                    raise HttpError(404, f"workflow {name!r} not found")
                library = Library(self.kv, name, compile_code=False).start()
                self._workflows[name] = (library, RequestWaiter(self.kv, name))
            return self._workflows[name]

    # --- routes --------------------------------------------------------------------------
    def index(self, environ) -> tuple[int, dict]:
        return 200, {"service": "mr front-end", "host": self.hostname}

    def post_job(self, environ, workflow: str, job: str) -> tuple[int, dict]:
        body = self._body(environ)
        q = query(environ, "blocking", "name", "recompute")
        blocking = flag(q, "blocking", True)
        name = q.get("name") or None
        library, waiter = self.workflow(workflow)
        request_id = None
        context = {"requester_ip": self.client_ip(environ), "front_end": self.name}
        try:
            if blocking:
                # Take the ticket before the request exists, so its end cannot slip past.
                request_id = new_request_id()
                waiter.expect(request_id)
            request, reused = submit(self.kv, self.publisher, library, job, body["arguments"],
                                     blocking, context, self.settings, request_id=request_id,
                                     name=name, recompute=flag(q, "recompute", False),
                                     notifier=self.notifier, inputs=body.get("inputs"),
                                     split_bytes=body.get("split_bytes"),
                                     expected_s=body.get("expected_s"))
        except SubmitError as exc:
            waiter.forget(request_id)
            metrics.REQUESTS.labels(workflow, job, "refused").inc()
            raise HttpError(exc.status, str(exc), exc.request_id) from None
        metrics.REQUESTS.labels(workflow, job, "reused" if reused else "submitted").inc()
        if reused:
            waiter.forget(request_id)
            if request.state == RUNNING and blocking:
                return self.outcome(self.wait(workflow, request, waiter), reused=True)
            if request.state == DONE:
                return self.outcome(request, reused=True)
            return 202, {"request_id": request.id, "state": request.state, "reused": True}
        if not blocking:
            return 202, {"request_id": request.id, "state": RUNNING}
        return self.outcome(self.wait(workflow, request, waiter))

    def get_request(self, environ, workflow: str, request_id: str) -> tuple[int, dict]:
        _, waiter = self.workflow(workflow)
        wait = query(environ, "wait").get("wait")
        if wait is None:
            return 200, self.describe(self._load_request(workflow, request_id))
        try:
            seconds = min(max(float(wait), 0.0), self.settings.request_timeout_s)
        except ValueError:
            raise HttpError(400, f"wait={wait!r} is not a number of seconds") from None
        waiter.expect(request_id)  # before reading, so an end in between is not missed
        request = self._load_request(workflow, request_id, forget=waiter)
        if request.state == RUNNING:
            request = waiter.wait(request_id, seconds) or self._load_request(workflow, request_id)
        waiter.forget(request_id)
        return 200, self.describe(request)

    def get_result(self, environ, workflow: str, request_id: str) -> tuple[int, dict]:
        """A done request's result a page at a time: ?offset=0&limit=1000."""
        self.workflow(workflow)
        offset, limit = page_window(query(environ, "offset", "limit"))
        request = self._load_request(workflow, request_id)
        if request.state != DONE:
            raise HttpError(409, f"request {request_id} is {request.state}: only a done "
                                 f"request has a result", request_id, state=request.state)
        found, total = page(request, fs.workflow_fs(self.settings, workflow), offset, limit)
        following = offset + len(found)
        return 200, {"request_id": request_id, "offset": offset, "total": total,
                     "pairs": found, "next": following if following < total else None}

    # --- helpers -------------------------------------------------------------------------
    def wait(self, workflow: str, request: Request, waiter: RequestWaiter) -> Request:
        """The ended request; at its deadline it is failed with reason "timeout" (504)."""
        ended = waiter.wait(request.id, max((request.deadline or 0) - time.time(), 0.0))
        if ended is not None:
            return ended
        current = self._load_request(workflow, request.id)
        if current.state != RUNNING:
            return current
        if current.deadline and current.deadline > time.time():   # moved by a resume
            waiter.expect(request.id)
            current = self._load_request(workflow, request.id, forget=waiter)
            return current if current.state != RUNNING else self.wait(workflow, current,
                                                                        waiter)
        assert current.deadline is not None  # submit() gives every request one
        limit = current.deadline - current.created
        if fail(self.kv, current, "timeout", f"request timed out after {limit:g}s"):
            events.request_ended(self.notifier, current)
            return current
        return self._load_request(workflow, request.id)  # it ended just in time

    def request_id_of(self, workflow: str, id_or_name: str) -> str:
        """The id a route's request id or name stands for."""
        self.workflow(workflow)
        return listing.request_id_of(self.kv, workflow, id_or_name)

    def _load_request(self, workflow: str, request_id: str,
                      forget: RequestWaiter | None = None) -> Request:
        entry = self.kv.get(keys.request(workflow, request_id))
        if entry is None:
            if forget is not None:
                forget.forget(request_id)
            raise HttpError(404, f"request {request_id!r} not found in workflow {workflow!r} "
                                 f"(no request has that id or holds that name; a request gets "
                                 f"a name with POST /job/{workflow}/<job>?name=...)")
        return decode(Request, entry.value)

    def describe(self, request: Request) -> dict:
        body = {"request_id": request.id, "workflow": request.workflow, "job": request.job,
                "state": request.state, "created": request.created,
                "finished": request.finished, "name": request.name,
                "retries": request.retries, "counts": request.counts}
        if request.tallies:
            body["tallies"] = request.tallies
        if request.state == DONE:
            inline = request.result_writer == ResultWriter.INLINE
            body["result"] = read_result(request) if inline else None
            if request.result_writer == ResultWriter.FILE or has_manifest(request):
                body["result_path"] = request.result_path
            if has_manifest(request):
                body["result_pages"] = (f"/request/{request.workflow}/{request.id}/result"
                                        f"?offset=0&limit={PAGE}")
        elif request.failure:
            body["failure"] = request.failure
        return body

    def outcome(self, request: Request, reused: bool = False) -> tuple[int, dict]:
        body = self.describe(request)
        if reused:
            body["reused"] = True
        if request.state == DONE:
            return 200, body
        failure = request.failure or {}
        status = FAILURE_STATUS.get(failure.get("reason", ""), 503)
        raise HttpError(status, failure.get("message", f"request {request.state}"),
                        request.id, **{k: v for k, v in body.items() if k != "request_id"})

    def _body(self, environ) -> dict:
        """The POST's JSON: "arguments", and a data job's optional "inputs" and
        "split_bytes"."""
        content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type not in ("", "application/json") and not content_type.endswith("+json"):
            raise HttpError(415, f"Content-Type {content_type} is not supported: send the body "
                                 f"as application/json (curl: --json '...')")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise HttpError(400, "Content-Length is not a number") from None
        limit = self.settings.max_body_bytes
        if length > limit:
            raise HttpError(413, f"body of {length} bytes exceeds the limit of "
                                 f"{limit} (MR_MAX_BODY_BYTES)")
        raw = self._read(environ["wsgi.input"], length) if length else b""
        if not length and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            raw = self._read(environ["wsgi.input"], limit + 1)  # no Content-Length: up to it
            if len(raw) > limit:
                raise HttpError(413, f"body exceeds the limit of {limit} bytes "
                                     f"(MR_MAX_BODY_BYTES)")
        if not raw:
            raise HttpError(400, 'empty body; send JSON like {"arguments": {...}}')
        try:
            body = json.loads(raw, parse_int=values.parse_int,
                              parse_constant=values.parse_constant)
        except values.BadValue as exc:
            raise HttpError(400, f"body: {exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"body is not valid JSON: {exc}") from None
        except RecursionError:
            raise HttpError(400, "body is not valid JSON: nested too deeply") from None
        if not isinstance(body, dict) or not isinstance(body.get("arguments", None), dict):
            raise HttpError(400, 'body must be a JSON object with an "arguments" object')
        unknown = set(body) - BODY_FIELDS
        if unknown:
            raise HttpError(400, f"unknown field(s) in body: {', '.join(sorted(unknown))} "
                                 f"(a body has {', '.join(sorted(BODY_FIELDS))})")
        expected = body.get("expected_s")
        if expected is not None and (isinstance(expected, bool) or not isinstance(
                expected, (int, float)) or expected <= 0):
            raise HttpError(400, f'"expected_s" is how long the request should take: a number '
                                 f'of seconds > 0, not {expected!r}')
        return body

    def _read(self, stream, size: int) -> bytes:
        """The body, or 408 when the client stops sending it (a front-end without nginx
        would otherwise keep the connection until the client gives up)."""
        seconds = self.settings.body_timeout_s
        with gevent.Timeout(seconds, HttpError(
                408, f"the body did not arrive within {seconds:g}s (MR_BODY_TIMEOUT_S): send "
                     f"as many bytes as Content-Length says, without pausing")):
            return stream.read(size)

    @staticmethod
    def client_ip(environ) -> str:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        return forwarded.split(",")[0].strip() or environ.get("REMOTE_ADDR", "")


def _notifier(settings: config.Settings) -> Notifier:
    """The front-end notifies the ends it causes (deadlines, cancels); settings that workers
    would refuse only cost it its notifications, not its requests."""
    try:
        return Notifier.from_settings(settings)
    except ValueError as exc:
        log.error("notifications off in this front-end: %s", exc)
        return Notifier()


_front_end: FrontEnd | None = None


def _get_front_end() -> FrontEnd:
    global _front_end
    if _front_end is None:
        _front_end = FrontEnd(config.load())
    return _front_end


ROUTES = [(method, re.compile(pattern), handler) for method, pattern, handler in [
    *ui.ROUTES,  # the web view under /ui/
    ("POST", r"^/job/(?P<workflow>[^/]+)/(?P<job>[^/]+)/?$", FrontEnd.post_job),
    ("GET", r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/?$", FrontEnd.get_request),
    ("GET", r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/result/?$",
     FrontEnd.get_result),
    ("DELETE", r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/?$",
     controls.cancel),
    ("POST", r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/retry/?$",
     controls.retry),
    ("POST", r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/rerun/?$",
     controls.rerun_subtrees),
    ("POST", r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/pause/?$",
     controls.pause),
    ("POST", r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/resume/?$",
     controls.resume),
    ("GET", r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/progress/?$",
     tracking.progress),
    ("GET", r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/children/?$",
     tracking.children),
    ("GET", r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/invocation/"
            r"(?P<invocation_id>[^/]+)/?$", tracking.invocation),
    ("GET", r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/invocation/"
            r"(?P<invocation_id>[^/]+)/output/?$", tracking.invocation_output),
    ("GET", r"^/requests/(?P<workflow>[^/]+)/?$", tracking.requests),
    ("GET", r"^/stats/(?P<workflow>[^/]+)/?$", tracking.stats),
    ("GET", r"^/metrics/?$", tracking.metrics),
    ("GET", r"^/$", FrontEnd.index),
]]


def _route(method: str, path: str):
    allowed = []
    for route_method, pattern, handler in ROUTES:
        match = pattern.match(path)
        if match:
            if route_method == method:
                return handler, match.groupdict()
            allowed.append(route_method)
    if allowed:
        raise HttpError(405, f"{method} is not allowed on {path} (allowed: "
                             f"{', '.join(allowed)})")
    raise HttpError(404, f"no route for {path}")


def app(environ, start_response):
    ui_http.accept_token(environ)  # /ui/ also takes ?token= or its cookie
    refused = auth.refuse(environ, start_response)  # bearer tokens, when configured
    if refused is not None:
        return refused
    method, path = environ["REQUEST_METHOD"], request_path(environ)
    request_id = None
    try:
        handler, params = _route(method, path)
        front_end = _get_front_end()
        if "request_id" in params:   # a request's name stands in for its id everywhere
            params["request_id"] = front_end.request_id_of(params["workflow"],
                                                           params["request_id"])
        status, body = handler(front_end, environ, **params)
        if isinstance(body, dict):
            request_id = body.get("request_id")
    except HttpError as exc:
        status, request_id = exc.status, exc.request_id
        body = {"error": str(exc), **({"request_id": request_id} if request_id else {}),
                **exc.extra}
    except EtcdUnavailable as exc:
        status, body = 503, {"error": f"etcd unavailable: {exc}"}
    except Exception as exc:  # a bug: answer JSON anyway and keep the traceback in the log
        log.exception("unhandled error on %s %s", method, path)
        status, body = 500, {"error": f"internal error: {exc.__class__.__name__}: {exc}"}
    if isinstance(body, ui_http.Reply):  # the web view's pages and event streams
        start_response(f"{status} {HTTPStatus(status).phrase}", body.headers)
        return body.chunks
    if isinstance(body, Raw):
        content_type, payload = body.content_type, body.payload
    else:
        content_type, payload = "application/json", json.dumps(body, default=repr).encode()
    headers = [("Content-Type", content_type), ("Content-Length", str(len(payload)))]
    if request_id:
        headers.append(("X-MR-REQUEST-ID", request_id))
    if status == 408:   # the rest of the body may still come: not a connection to reuse
        headers.append(("Connection", "close"))
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [payload]
