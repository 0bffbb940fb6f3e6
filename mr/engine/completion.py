"""Ending invocations and requests: storing an output, scheduling the reduction it makes
ready, failing a request at an invocation, and ending a request (notifications, blob clean-up).

The runner and the data steps finish their work through it; the first commit in etcd wins
(mr.engine.protocol), so a duplicate run's completion is refused there, not here.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from mr import fs, values
from mr.config import Settings
from mr.data.files import delete_request_files
from mr.engine import blobs, events, faults, lookup, protocol, request_protocol
from mr.engine.calls import HandlerFailure
from mr.engine.context import InvocationLog
from mr.engine.results import write_result
from mr.engine.timelimit import TimeLimitExceeded
from mr.fs import traces
from mr.handlers.library import Library
from mr.kv import keys
from mr.kv.codec import pack
from mr.kv.models import (
    DONE,
    FAILED,
    FINISHED_STATES,
    REDUCE,
    WAITING,
    Invocation,
    Request,
    decode,
    encode,
    parent_of,
    reduce_id,
    reduced_of,
)
from mr.kv.store import Store
from mr.notify import Notifier
from mr.queue import messages
from mr.queue.publisher import Publisher
from mr.queue.topics import topic

log = logging.getLogger(__name__)


def done(inv: Invocation, out: InvocationLog | None = None) -> Invocation:
    """Mark done; `out` is what this run logged, kept with the invocation when not empty."""
    inv.state, inv.finished = DONE, time.time()
    if out is not None:
        out.keep_in(inv)
    return inv



class Completion:
    """What a worker does when an invocation ends; one per runner."""

    def __init__(self, kv: Store, publisher: Publisher, settings: Settings, notifier: Notifier,
                 worker_id: str, workflow_fs: Callable[[str], fs.WorkflowFS]):
        self.kv = kv
        self.publisher = publisher
        self.settings = settings
        self.notifier = notifier
        self.worker_id = worker_id
        self.workflow_fs = workflow_fs

    def complete(self, library: Library, request: Request, finished: list[Invocation],
                 output_of: str, output: Any,
                 unclaimed: protocol.Unclaimed | None = None) -> bool:
        """Store `output_of`'s output and mark `finished` done; False if another run's output
        was stored first (a duplicate) or the request has ended. `unclaimed`: this commit
        claims the run too, and holds only if nobody else took it meanwhile."""
        parent = parent_of(output_of)
        wfs = self.workflow_fs(request.workflow)
        try:
            values.check(output, "pairs")
        except values.BadValue as exc:
            raise HandlerFailure(f"output of invocation {output_of} cannot be stored: "
                                 f"{exc}") from None
        if parent is None:
            request.state, request.finished = DONE, time.time()
            try:
                write_result(request, output, wfs, self.settings.result_dir,
                             self.settings.blob_threshold_bytes)
            except (TypeError, ValueError) as exc:  # else retried as if etcd were down
                raise HandlerFailure(f"output of invocation {output_of} cannot be stored: "
                                     f"{exc}") from None
            return self.end(request, finished, unclaimed)
        try:
            packed = pack(output)
        except (TypeError, ValueError) as exc:   # e.g. nested deeper than msgpack goes
            raise HandlerFailure(
                f"output of invocation {output_of} cannot be stored: {exc}") from exc
        stored = blobs.store_output(wfs, request.id, output_of, packed,
                                    self.settings.blob_threshold_bytes)
        stored_now = protocol.complete(self.kv, request.workflow, request.id, finished,
                                       output_of, stored, unclaimed)
        if stored_now.parent_ready:
            self.schedule_reduce(library, request, parent)
        return stored_now.committed

    def schedule_reduce(self, library: Library, request: Request, parent: str,
                         step_name: str | None = None, republish: bool = False) -> None:
        wf, rid = request.workflow, request.id
        if step_name is None:
            entry = self.kv.get(keys.invocation(wf, rid, parent))
            if entry is None:
                return
            step_name = decode(Invocation, entry.value).step
        reducer = lookup.reduction_handler(library, lookup.step(library, step_name))
        reduce_inv = Invocation(id=reduce_id(parent), step=step_name, kind=REDUCE)
        record = encode(reduce_inv)
        revision = protocol.claim_reduce(self.kv, wf, rid, reduce_inv.id, record)
        if not revision:
            if not republish:
                return
            entry = self.kv.get(keys.invocation(wf, rid, reduce_inv.id))
            if entry is None or decode(Invocation, entry.value).state in FINISHED_STATES:
                return
        self.publisher.publish(topic(wf, reducer.definition.required_capability),
                               messages.encode(wf, rid, reduce_inv.id, revision, record))

    def propagate(self, library: Library, request: Request, inv: Invocation) -> None:
        """A message for an invocation that already finished: make sure its effect moved on.

        The worker that finished it may have died between its commit and publishing the
        parent's reduction; etcd alone says whether that is still owed.
        """
        wf, rid = request.workflow, request.id
        parent: str | None
        if inv.state == WAITING:
            parent = inv.id
        elif inv.state == DONE:
            parent = parent_of(reduced_of(inv.id) if inv.kind == REDUCE else inv.id)
        else:
            return
        if parent is not None and protocol.parent_ready(self.kv, wf, rid, parent):
            self.schedule_reduce(library, request, parent, republish=True)

    def fail(self, request: Request, inv: Invocation,
              failure: HandlerFailure | faults.EngineFailure, out: InvocationLog, attempt: int,
              mark: bool = True) -> None:
        """Fail the request at `inv` (marked failed too when `mark`); the reason is "handler",
        or "engine" for an EngineFailure."""
        now = time.time()
        if mark:
            inv.state, inv.finished, inv.error = FAILED, now, failure.trace
            out.keep_in(inv)
        definition = failure.handler.definition if failure.handler else None
        request.state, request.finished = FAILED, now
        request.failure = {
            "reason": failure.reason,
            "message": str(failure),
            "invocation": inv.id,
            "step": inv.step,
            "handler": definition.name if definition else inv.handler,
            "version": definition.version if definition else inv.version,
            "attempt": attempt,
            "worker": self.worker_id,
            "traceback": failure.trace,
            "log": out.text(),
            "stderr": out.stderr_text() or None,
        }
        if isinstance(failure, TimeLimitExceeded) and failure.handler is not None:
            request.failure["time_limit_s"] = failure.handler.time_limit_s
        log.info("request %s/%s failed at invocation %s: %s", request.workflow, request.id,
                 inv.id, failure)
        if self.end(request, [inv] if mark else []) and failure.raised:
            events.handler_exception(self.notifier, request)

    def end(self, request: Request, invocations: list[Invocation],
            unclaimed: protocol.Unclaimed | None = None) -> bool:
        """End the request; the one process that did notifies, and deletes its blobs when its
        data went with it (a failed request keeps its data, and blobs, until it expires)."""
        keep = self.keep_trace if self.settings.trace_retention_s > 0 else None
        if not request_protocol.end_request(self.kv, request, invocations,
                                            self.settings.cleanup, keep_trace=keep,
                                            unclaimed=unclaimed):
            return False
        events.request_ended(self.notifier, request)
        if self.settings.cleanup and request.state == DONE:
            try:
                delete_request_files(self.workflow_fs(request.workflow), request.id)
            except Exception as exc:  # the request is over either way; say what is left
                log.warning("blobs of request %s/%s not deleted: %s", request.workflow,
                            request.id, exc)
        return True

    def keep_trace(self, request: Request, records: Iterable[bytes],
                   logs: dict[str, dict[int, str]]) -> None:
        """Write the ended request's trace document (request_protocol.end_request calls this
        after its transaction: its client is not kept waiting). A failure loses the trace
        only."""
        try:
            traces.write(self.workflow_fs(request.workflow), request, records, logs,
                         self.settings.trace_retention_s)
        except Exception as exc:
            log.warning("trace of request %s/%s not kept: %s", request.workflow, request.id,
                        exc)
