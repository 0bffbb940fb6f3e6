"""What the engine tells the notifier: a handler's uncaught exception and a request's end.

A request's end is notified by the one process whose transaction ended it: the runner (done,
or a handler's failure), the sweeper or a blocking front-end (its deadline), whoever cancelled
it (the front-end or mr_request_cancel).

Which of these are sent, and where, is the notifier's settings (MR_NOTIFY_EVENTS, ...); the
notifier never raises and sends in the background, so an invocation never waits on a mail
server.
"""
from __future__ import annotations

from mr.kv.models import DONE, Request


def handler_exception(notifier, request: Request) -> None:
    """An uncaught exception failed an invocation (after its retries); `request.failure` has
    the invocation, handler, traceback and log."""
    failure = request.failure or {}
    notifier.notify("handler_exception",
                    f"[{request.workflow}] handler {failure.get('handler')} raised in request "
                    f"{request.id}: {failure.get('message', '')}"[:200],
                    {"workflow": request.workflow, "request_id": request.id, "job": request.job,
                     **failure})


def request_ended(notifier, request: Request) -> None:
    """Sent by whoever ended the request (exactly one process): request_done, or
    request_failed with the failure's reason (handler, timeout, cancelled, ...)."""
    took = (request.finished or 0) - request.created
    if request.state == DONE:
        details = {"result_path": request.result_path} if request.result_path else {}
        notifier.notify("request_done", f"[{request.workflow}] request {request.id} "
                        f"({request.job}) done in {took:.1f}s",
                        {"workflow": request.workflow, "request_id": request.id,
                         "job": request.job, "seconds": round(took, 3), **details})
        return
    failure = request.failure or {}
    notifier.notify("request_failed", f"[{request.workflow}] request {request.id} "
                    f"({request.job}) failed: {failure.get('message', '')}"[:200],
                    {"workflow": request.workflow, "request_id": request.id,
                     "job": request.job, "seconds": round(took, 3),
                     **{k: v for k, v in failure.items() if k != "log"}})
