"""Cancel a running request, or retry a failed one keeping what already finished."""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

from mr.config import Settings
from mr.engine import events, lookup, request_protocol
from mr.handlers.library import Library
from mr.kv import keys
from mr.kv.client import (
    cmp_absent,
    cmp_mod_revision,
    cmp_present,
    op_delete,
    op_get,
    op_put,
)
from mr.kv.codec import pack, unpack
from mr.kv.models import (
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    WAITING,
    Invocation,
    Request,
    decode,
    encode,
)
from mr.kv.store import Store
from mr.notify import Notifier
from mr.queue import messages
from mr.queue.publisher import Publisher, PublishError
from mr.queue.topics import topic


class ControlError(Exception):
    """Refused: `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def load_request(kv: Store, wf: str, rid: str) -> tuple[Request, int]:
    entry = kv.get(keys.request(wf, rid))
    if entry is None:
        raise ControlError(404, f"request {rid!r} not found in workflow {wf!r}")
    return decode(Request, entry.value), entry.mod_revision


MAX_REASON = 500   # characters of a cancel's reason kept in the record


def cancel(kv: Store, wf: str, rid: str, by: str, notifier: Notifier,
           reason: str | None = None) -> Request:
    """End a running request as cancelled: queued work is dropped, running work discarded.

    Workers see the request is no longer live: they skip its queued invocations, and the
    outputs of handlers still running cannot be committed. The caller ended it, so its
    `notifier` sends request_failed (reason "cancelled").
    """
    request, _ = load_request(kv, wf, rid)
    if request.state != RUNNING:
        raise ControlError(409, f"request {rid} is {request.state}; only a running request can "
                                f"be cancelled")
    request.state, request.finished = CANCELLED, time.time()
    request.failure = {"reason": "cancelled", "message": f"cancelled by {by}"
                       + (f": {reason[:MAX_REASON]}" if reason else "")}
    if reason:
        request.failure["why"] = reason[:MAX_REASON]
    if not request_protocol.end_request(kv, request, [], cleanup=False):
        raise ControlError(409, f"request {rid} ended before it could be cancelled")
    events.request_ended(notifier, request)
    return request


def retry(kv: Store, publisher: Publisher, library: Library, rid: str,
          settings: Settings) -> tuple[Request, int]:
    """Run a failed or cancelled request again from where it stopped; (request, requeued).

    Done invocations keep their outputs. Failed, interrupted and never-run ones go back to
    queued and are published again; waiting parents are published too, so a worker checks
    whether their reduction is owed (it may have been refused when the request failed).
    """
    wf = library.workflow
    request, revision = load_request(kv, wf, rid)
    if request.state not in (FAILED, CANCELLED):
        raise ControlError(409, f"request {rid} is {request.state}; only a failed or cancelled "
                                f"request can be retried")
    if kv.count(keys.invocations(wf, rid)) == 0:
        raise ControlError(409, f"request {rid} has no invocation records left (removed after "
                                f"it ended); submit it again")
    job = library.job(request.job)
    previous_state, previous_expiry = request.state, request.expires
    now = time.time()
    request.state, request.failure, request.finished = RUNNING, None, None
    request.counts, request.expires, request.retries = None, None, request.retries + 1
    request.deadline = now + ((job.timeout_s if job else None) or settings.request_timeout_s)
    if not request_protocol.reopen(kv, request, revision, previous_state, previous_expiry):
        raise ControlError(409, f"request {rid} changed while being retried; try again")
    try:
        return request, requeue_unfinished(kv, publisher, library, rid)
    except PublishError as exc:
        raise ControlError(503, f"request {rid} runs again, but its invocations could not be "
                                f"queued ({exc}); the workers' sweeper publishes them once "
                                f"a broker is back (after MR_STALL_S)") from None


def requeue_unfinished(kv: Store, publisher: Publisher, library: Library, rid: str) -> int:
    """Every invocation of a reopened request that is not done goes back to queued (a waiting
    parent stays waiting) and is published; how many."""
    wf, count = library.workflow, 0
    batch: list[Invocation] = []
    by_topic: dict[str, list[bytes]] = defaultdict(list)

    def flush() -> None:
        if batch and not request_protocol.requeue(kv, wf, rid, batch):
            raise ControlError(409, f"request {rid} ended again while being retried")
        batch.clear()
        for name, bodies in by_topic.items():
            publisher.publish_many(name, bodies)
        by_topic.clear()

    for entry in kv.scan(keys.invocations(wf, rid)):
        inv = decode(Invocation, entry.value)
        if inv.state == DONE:
            continue
        if inv.state != WAITING:
            inv.state, inv.worker, inv.message_id = QUEUED, None, None
            inv.error, inv.log, inv.started, inv.finished = None, None, None, None
            batch.append(inv)
        by_topic[topic_of(library, inv)].append(messages.encode(wf, rid, inv.id))
        count += 1
        if len(batch) == request_protocol.REQUEUE_BATCH:
            flush()
    flush()
    return count


REPUBLISH_BATCH = 500


def republish_unfinished(kv: Store, publisher: Publisher, library: Library, rid: str,
                         worker_alive: Callable[[str], bool]) -> int:
    """Publish again every unfinished invocation of a running request that no live worker is
    running (waiting parents too: a worker checks whether their reduction is owed); how many.
    Duplicates are harmless: the start claim lets one copy run."""
    wf = library.workflow
    by_topic: dict[str, list[bytes]] = defaultdict(list)
    for entry in kv.scan(keys.invocations(wf, rid)):
        inv = decode(Invocation, entry.value)
        if inv.state == DONE:
            continue
        if inv.state == RUNNING and inv.worker and worker_alive(inv.worker):
            continue
        _, handler = lookup.named_handler(library, inv)
        if handler is None:
            continue  # a worker running it fails the request with a clear error
        by_topic[topic(wf, handler.definition.required_capability, inv.data_plane)].append(
            messages.encode(wf, rid, inv.id))
    for name, bodies in by_topic.items():
        for start in range(0, len(bodies), REPUBLISH_BATCH):
            publisher.publish_many(name, bodies[start:start + REPUBLISH_BATCH])
    return sum(len(b) for b in by_topic.values())


def pause(kv: Store, wf: str, rid: str) -> Request:
    """Start nothing more of a running request: invocations already running finish; the
    messages of the others are dropped by the workers that get them (resume() publishes them
    again)."""
    request, _ = load_request(kv, wf, rid)
    if request.state != RUNNING:
        raise ControlError(409, f"request {rid} is {request.state}; only a running request can "
                                f"be paused")
    mark = pack(time.time())
    paused = kv.txn([cmp_present(keys.live(wf, rid)), cmp_absent(keys.paused(wf, rid))],
                    [op_put(keys.paused(wf, rid), mark)], [op_get(keys.paused(wf, rid))])
    if not (paused.succeeded or paused.holds(0, mark)):   # holds: its reply was lost
        raise ControlError(409, f"request {rid} is already paused (or has just ended)")
    return request


def resume(kv: Store, publisher: Publisher, library: Library, rid: str,
           worker_alive: Callable[[str], bool]) -> tuple[Request, int]:
    """Let a paused request go on: its deadline moves by the time it was paused, and what it
    had left is published again; (request, invocations published)."""
    wf = library.workflow
    request, revision = load_request(kv, wf, rid)
    entry = kv.get(keys.paused(wf, rid))
    if entry is None or request.state != RUNNING:
        raise ControlError(409, f"request {rid} is {request.state} and not paused; only a "
                                f"paused request can be resumed")
    ops = [op_delete(keys.paused(wf, rid))]
    if request.deadline is not None:   # its deadline mark moves with it
        old = keys.deadline(wf, request.deadline, rid)
        request.deadline += max(time.time() - unpack(entry.value), 0.0)
        new = keys.deadline(wf, request.deadline, rid)
        if new != old:   # a short pause may not move it past the mark's precision
            ops += [op_delete(old), op_put(new, b"")]
    record = encode(request)
    resumed = kv.txn([cmp_mod_revision(keys.paused(wf, rid), entry.mod_revision),
                      cmp_mod_revision(request.key, revision)],
                     ops + [op_put(request.key, record)],
                     [op_get(request.key), op_get(keys.paused(wf, rid), count_only=True)])
    # its reply lost: the retry finds the request as it wrote it, no longer paused
    ours = resumed.holds(0, record) and resumed.count(1) == 0
    if not (resumed.succeeded or ours):
        raise ControlError(409, f"request {rid} changed while being resumed; try again")
    try:
        return request, republish_unfinished(kv, publisher, library, rid, worker_alive)
    except PublishError as exc:
        raise ControlError(503, f"request {rid} is resumed, but its invocations could not be "
                                f"queued ({exc}); the workers' sweeper publishes them once "
                                f"a broker is back (after MR_STALL_S)") from None


def topic_of(library: Library, inv: Invocation) -> str:
    step = library.step(inv.step)
    if step is None:
        raise ControlError(409, f"step {inv.step!r} of invocation {inv.id} no longer exists")
    name = getattr(step, lookup.role_of(inv, step))
    handler = library.handler(name)
    if handler is None:
        raise ControlError(409, f"handler {name!r} of step {step.name} no longer exists")
    return topic(library.workflow, handler.definition.required_capability, inv.data_plane)
