"""The front-end: a plain WSGI app run by gunicorn's gevent workers (`mr.web.app:app`).

    POST /job/<workflow>/<job>[?blocking=false]   {"arguments": {...}}
    GET  /request/<workflow>/<request_id>
    GET  /                                          liveness

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
import uuid
from urllib.parse import parse_qs

from mr import config
from mr.engine.results import read_result
from mr.engine.submit import SubmitError, fail, submit
from mr.handlers.library import Library
from mr.kv import client as kv_client
from mr.kv import keys
from mr.kv.client import EtcdUnavailable
from mr.kv.models import DONE, RUNNING, Request, decode
from mr.queue.publisher import Publisher
from mr.web import auth
from mr.web.waiter import RequestWaiter

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

ROUTES = [
    ("POST", re.compile(r"^/job/(?P<workflow>[^/]+)/(?P<job>[^/]+)/?$"), "post_job"),
    ("GET", re.compile(r"^/request/(?P<workflow>[^/]+)/(?P<request_id>[^/]+)/?$"), "get_request"),
    ("GET", re.compile(r"^/$"), "index"),
]
STATUS_TEXT = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found",
               405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
               422: "Unprocessable Entity", 500: "Internal Server Error",
               503: "Service Unavailable", 504: "Gateway Timeout"}


class HttpError(Exception):
    def __init__(self, status: int, message: str, request_id: str | None = None, **extra):
        super().__init__(message)
        self.status, self.request_id, self.extra = status, request_id, extra


class FrontEnd:
    """Per-process state, created lazily on the first request (never before gunicorn forks)."""

    def __init__(self, settings: config.Settings):
        self.settings = settings
        self.kv = kv_client.client(settings.etcd_hosts, settings.etcd_timeout_s)
        self.publisher = Publisher(settings.nsqd_http_hosts)
        self.hostname = socket.gethostname()
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
        arguments = self._arguments(environ)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        blocking = query.get("blocking", ["true"])[0].lower() not in ("false", "0", "no")
        library, waiter = self.workflow(workflow)
        request_id = None
        context = {"requester_ip": self._client_ip(environ), "front_end": self.hostname}
        try:
            if not blocking:
                request = submit(self.kv, self.publisher, library, job, arguments, False,
                                 context, self.settings.request_timeout_s)
                return 202, {"request_id": request.id, "state": RUNNING}
            # Take the ticket before the request exists, so its end cannot slip past the watch.
            request_id = uuid.uuid4().hex
            waiter.expect(request_id)
            request = submit(self.kv, self.publisher, library, job, arguments, True, context,
                             self.settings.request_timeout_s, request_id=request_id)
            ended = waiter.wait(request_id, max(request.deadline - time.time(), 0.0))
        except SubmitError as exc:
            if blocking:
                waiter.forget(request_id)
            raise HttpError(exc.status, str(exc), exc.request_id) from None
        if ended is None:
            limit = request.deadline - request.created
            if fail(self.kv, request, "timeout", f"request timed out after {limit:g}s"):
                raise HttpError(504, f"request {request_id} timed out after {limit:g}s",
                                request_id, state="failed", failure=request.failure)
            ended = self._load_request(workflow, request_id)  # it ended just in time
        return self._outcome(ended)

    def get_request(self, environ, workflow: str, request_id: str) -> tuple[int, dict]:
        self.workflow(workflow)
        return 200, self._describe(self._load_request(workflow, request_id))

    # --- helpers -------------------------------------------------------------------------
    def _load_request(self, workflow: str, request_id: str) -> Request:
        entry = self.kv.get(keys.request(workflow, request_id))
        if entry is None:
            raise HttpError(404, f"request {request_id!r} not found in workflow {workflow!r}")
        return decode(Request, entry.value)

    def _describe(self, request: Request) -> dict:
        body = {"request_id": request.id, "workflow": request.workflow, "job": request.job,
                "state": request.state, "created": request.created,
                "finished": request.finished}
        if request.state == DONE:
            body["result"] = read_result(request) if request.result_writer == "inline" else None
            if request.result_writer == "file":
                body["result_path"] = request.result_path
        elif request.failure:
            body["failure"] = request.failure
        return body

    def _outcome(self, request: Request) -> tuple[int, dict]:
        body = self._describe(request)
        if request.state == DONE:
            return 200, body
        failure = request.failure or {}
        raise HttpError(500 if failure.get("reason") == "handler" else 504 if failure.get(
            "reason") == "timeout" else 503, failure.get("message", "request failed"),
            request.id, **{k: v for k, v in body.items() if k != "request_id"})

    def _arguments(self, environ) -> dict:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise HttpError(400, "Content-Length is not a number") from None
        if length > self.settings.max_body_bytes:
            raise HttpError(413, f"body of {length} bytes exceeds the limit of "
                                 f"{self.settings.max_body_bytes} (MR_MAX_BODY_BYTES)")
        raw = environ["wsgi.input"].read(length) if length else b""
        if not raw:
            raise HttpError(400, 'empty body; send JSON like {"arguments": {...}}')
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"body is not valid JSON: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.get("arguments", None), dict):
            raise HttpError(400, 'body must be a JSON object with an "arguments" object')
        unknown = set(body) - {"arguments"}
        if unknown:
            raise HttpError(400, f"unknown field(s) in body: {', '.join(sorted(unknown))}")
        return body["arguments"]

    @staticmethod
    def _client_ip(environ) -> str:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        return forwarded.split(",")[0].strip() or environ.get("REMOTE_ADDR", "")


_front_end: FrontEnd | None = None


def _get_front_end() -> FrontEnd:
    global _front_end
    if _front_end is None:
        _front_end = FrontEnd(config.load())
    return _front_end


def app(environ, start_response):
    refused = auth.refuse(environ, start_response)  # bearer tokens, when configured
    if refused is not None:
        return refused
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    request_id = None
    try:
        for route_method, pattern, name in ROUTES:
            match = pattern.match(path)
            if match:
                if method != route_method:
                    raise HttpError(405, f"{method} is not allowed on {path}")
                status, body = getattr(_get_front_end(), name)(environ, **match.groupdict())
                request_id = body.get("request_id")
                break
        else:
            raise HttpError(404, f"no route for {path}")
    except HttpError as exc:
        status, request_id = exc.status, exc.request_id
        body = {"error": str(exc), **({"request_id": request_id} if request_id else {}),
                **exc.extra}
    except EtcdUnavailable as exc:
        status, body = 503, {"error": f"etcd unavailable: {exc}"}
    except Exception as exc:  # a bug: answer JSON anyway and keep the traceback in the log
        log.exception("unhandled error on %s %s", method, path)
        status, body = 500, {"error": f"internal error: {exc.__class__.__name__}: {exc}"}
    payload = json.dumps(body, default=repr).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    if request_id:
        headers.append(("X-MR-REQUEST-ID", request_id))
    start_response(f"{status} {STATUS_TEXT.get(status, '')}", headers)
    return [payload]
