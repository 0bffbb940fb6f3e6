"""Routes that change a request's course: cancel, pause, resume, retry and re-run part of it.
Each takes the FrontEnd and the WSGI environ like the app's own routes; mr.engine.control and
mr.engine.rerun decide, and a refusal becomes the HTTP status they name."""
from __future__ import annotations

from mr.engine import control, registry, rerun
from mr.kv.models import PAUSED, RUNNING
from mr.web.http import HttpError, flag, query


def cancel(front_end, environ, workflow: str, request_id: str) -> tuple[int, dict]:
    front_end.workflow(workflow)
    reason = query(environ, "reason").get("reason") or None
    try:
        request = control.cancel(front_end.kv, workflow, request_id,
                                 f"{front_end.client_ip(environ)} via {front_end.hostname}",
                                 front_end.notifier, reason)
    except control.ControlError as exc:
        raise HttpError(exc.status, str(exc), request_id) from None
    return 200, front_end.describe(request)


def pause(front_end, environ, workflow: str, request_id: str) -> tuple[int, dict]:
    front_end.workflow(workflow)
    try:
        request = control.pause(front_end.kv, workflow, request_id)
    except control.ControlError as exc:
        raise HttpError(exc.status, str(exc), request_id) from None
    return 200, {"request_id": request.id, "state": PAUSED}


def resume(front_end, environ, workflow: str, request_id: str) -> tuple[int, dict]:
    library, _ = front_end.workflow(workflow)
    try:
        request, published = control.resume(
            front_end.kv, front_end.publisher, library, request_id,
            lambda worker: registry.is_alive(front_end.kv, worker))
    except control.ControlError as exc:
        raise HttpError(exc.status, str(exc), request_id) from None
    return 200, {"request_id": request.id, "state": RUNNING, "published": published,
                 "deadline": request.deadline}


def retry(front_end, environ, workflow: str, request_id: str) -> tuple[int, dict]:
    """POST .../retry[?blocking=true]: a failed or cancelled request from where it stopped."""
    blocking = flag(query(environ, "blocking"), "blocking", False)
    return _again(front_end, workflow, request_id, blocking, lambda library: control.retry(
        front_end.kv, front_end.publisher, library, request_id, front_end.settings),
        lambda request, requeued: {"requeued": requeued, "retries": request.retries})


def rerun_subtrees(front_end, environ, workflow: str, request_id: str) -> tuple[int, dict]:
    """POST .../rerun?invocations=0.1,0.3: those subtrees again, up to a new result."""
    q = query(environ, "invocations", "blocking")
    targets = [t.strip() for t in q.get("invocations", "").split(",") if t.strip()]
    return _again(front_end, workflow, request_id, flag(q, "blocking", False),
                  lambda library: rerun.rerun(front_end.kv, front_end.publisher, library,
                                              request_id, targets, front_end.settings),
                  lambda request, chosen: {"rerun": chosen})


def _again(front_end, workflow: str, request_id: str, blocking: bool, start, described
           ) -> tuple[int, dict]:
    """Run an ended request again with `start(library)`; a blocking client waits for it."""
    library, waiter = front_end.workflow(workflow)
    if blocking:
        waiter.expect(request_id)
    try:
        request, what = start(library)
    except control.ControlError as exc:
        waiter.forget(request_id)
        raise HttpError(exc.status, str(exc), request_id) from None
    if not blocking:
        return 202, {"request_id": request_id, "state": RUNNING, **described(request, what)}
    return front_end.outcome(front_end.wait(workflow, request, waiter))
