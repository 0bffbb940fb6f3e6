"""Re-run chosen subtrees of an ended request: their work is done again, what depends on it
up to the root is reduced again, and the request ends with a new result; every other
invocation keeps its output.

For each chosen invocation T, every key of T's descendants goes (records, outputs, fan-out
counters, sessions, marks, logs, status messages), T goes back to queued, and each ancestor A
of T becomes a waiting parent again: its output and its reduction (with anything below that,
such as a data step's partitions) go. A parent's readiness is "finished children >= its
fan-out" over counters that only grow, so instead of taking a child's count back, the
parent's fan-out goes up by one for each child that had finished and will finish again. The
request then reopens as a retry does, and what is not done is published.

It needs the request's invocation records: a failed or cancelled request keeps them until it
expires, a done one only with MR_CLEANUP=0. What a failed or cancelled request left unfinished
outside the chosen subtrees runs too, as a retry would run it: the request cannot end
without it.
"""
from __future__ import annotations

import time

from mr.config import Settings
from mr.engine import request_protocol
from mr.engine.control import ControlError, load_request, requeue_unfinished
from mr.handlers.library import Library
from mr.kv import keys
from mr.kv.client import MAX_TXN_OPS, op_delete, op_put
from mr.kv.codec import pack, unpack
from mr.kv.models import (
    CANCELLED,
    DONE,
    FAILED,
    MAP,
    PARTITION,
    QUEUED,
    REDUCE,
    RUNNING,
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
from mr.queue.publisher import Publisher, PublishError

ENDED = (DONE, FAILED, CANCELLED)
MAX_TARGETS = 1000


def rerun(kv: Store, publisher: Publisher, library: Library, rid: str, targets: list[str],
          settings: Settings) -> tuple[Request, list[str]]:
    """Re-run `targets` (invocation ids) of ended request `rid`; (request, the subtrees' roots
    that run again: the targets, without those inside another's subtree)."""
    wf = library.workflow
    request, revision = load_request(kv, wf, rid)
    if request.state not in ENDED:
        raise ControlError(409, f"request {rid} is {request.state}; only an ended request "
                                f"(done, failed or cancelled) can re-run part of its work")
    records = {inv.id: inv for inv in (decode(Invocation, e.value)
                                       for e in kv.scan(keys.invocations(wf, rid)))}
    if not records:
        raise ControlError(409, f"request {rid} has no invocation records left (a done request "
                                f"keeps them only with MR_CLEANUP=0); submit it again")
    chosen = _outermost(_checked(targets, records))
    ancestors = {a for t in chosen for a in _ancestors(t)} - set(chosen)
    gone = {reduce_id(a) for a in ancestors}
    _reset(kv, wf, rid, records, chosen, ancestors, gone)
    previous_state, previous_expiry = request.state, request.expires
    job = library.job(request.job)
    request.state, request.failure, request.finished = RUNNING, None, None
    request.result, request.result_path = None, None
    request.counts, request.expires, request.retries = None, None, request.retries + 1
    request.deadline = time.time() + ((job.timeout_s if job else None)
                                      or settings.request_timeout_s)
    if not request_protocol.reopen(kv, request, revision, previous_state, previous_expiry):
        raise ControlError(409, f"request {rid} changed while being re-run; try again")
    try:
        requeue_unfinished(kv, publisher, library, rid)
    except PublishError as exc:
        raise ControlError(503, f"request {rid} runs again, but its invocations could not be "
                                f"queued ({exc}); the workers' sweeper publishes them once "
                                f"a broker is back (after MR_STALL_S)") from None
    return request, chosen


def _checked(targets: list[str], records: dict[str, Invocation]) -> list[str]:
    if not targets:
        raise ControlError(400, "name the invocations to re-run (ids such as 0.2 or 0.1.3)")
    if len(targets) > MAX_TARGETS:
        raise ControlError(400, f"at most {MAX_TARGETS} invocations at once")
    for iid in targets:
        inv = records.get(iid) if isinstance(iid, str) else None
        if inv is None:
            raise ControlError(404, f"invocation {iid!r} does not exist in this request")
        if inv.kind != MAP or inv.data_plane:
            raise ControlError(400, f"invocation {iid} is a {_what(inv)}: re-run the mapper "
                                    f"invocation above it ({_mapper_above(inv)})")
    return targets


def _what(inv: Invocation) -> str:
    return "split's mapper" if inv.split is not None else f"{inv.kind} invocation"


def _mapper_above(inv: Invocation) -> str:
    if inv.kind == REDUCE:
        return reduced_of(inv.id)
    if inv.kind == PARTITION:
        return reduced_of(parent_of(inv.id) or "")
    return parent_of(inv.id) or inv.id   # a split: the step's mapper that cut the files


def _outermost(targets: list[str]) -> list[str]:
    """The targets without those inside another target's subtree, in order, once each."""
    chosen: list[str] = []
    for iid in sorted(set(targets), key=lambda i: (i.count("."), i)):
        if not any(iid.startswith(outer + ".") for outer in chosen):
            chosen.append(iid)
    return chosen


def _ancestors(iid: str) -> list[str]:
    found = []
    parent = parent_of(iid)
    while parent is not None:
        found.append(parent)
        parent = parent_of(parent)
    return found


def _reset(kv: Store, wf: str, rid: str, records: dict[str, Invocation], chosen: list[str],
           ancestors: set[str], gone: set[str]) -> None:
    base = keys.request_data(wf, rid)
    counted = [iid for iid in [*chosen, *ancestors] if records[iid].state == DONE]
    ops: list = []
    for root in [*chosen, *gone]:
        ops += _subtree_ops(base, root, keep_root=root in chosen)
    for iid in chosen:
        inv = records[iid]
        inv.state, inv.worker, inv.message_id, inv.children = QUEUED, None, None, None
        inv.started = inv.finished = inv.error = inv.log = inv.stderr = None
        ops.append(op_put(keys.invocation(wf, rid, iid), encode(inv)))
    for iid in ancestors:
        inv = records[iid]
        inv.state, inv.finished = WAITING, None
        ops += [op_put(keys.invocation(wf, rid, iid), encode(inv)),
                op_delete(keys.output(wf, rid, parent_of(iid), iid)),
                op_delete(keys.mark(wf, rid, keys.DONE_MARK, iid)),
                op_put(keys.mark(wf, rid, keys.WAITING_MARK, iid), b"")]
    ops += _fanout_ops(kv, wf, rid, counted)
    for start in range(0, len(ops), MAX_TXN_OPS):
        kv.txn([], ops[start:start + MAX_TXN_OPS])


def _subtree_ops(base: str, root: str, keep_root: bool) -> list:
    """Deletes of every key below `root` and of its own output, counters, fan-out, session,
    marks, logs and status; its record too unless `keep_root` (it is rewritten)."""
    below = root + "."
    ops = [op_delete(f"{base}{family}/{below}", prefix=True)
           for family in ("inv", "out", "cnt", "fan", "sess", "log", "status")]
    ops += [op_delete(f"{base}ix/{mark}/{below}", prefix=True) for mark in keys.MARKS]
    ops += [op_delete(f"{base}ix/{mark}/{root}") for mark in keys.MARKS]
    ops += [op_delete(f"{base}out/{parent_of(root) or keys.ROOT_PARENT}/{root}"),
            op_delete(f"{base}out/{root}/", prefix=True),
            op_delete(f"{base}cnt/{root}/", prefix=True),
            op_delete(f"{base}fan/{root}"),
            op_delete(f"{base}sess/{root}/", prefix=True),
            op_delete(f"{base}log/{root}/", prefix=True),
            op_delete(f"{base}status/{root}")]
    if not keep_root:
        ops.append(op_delete(f"{base}inv/{root}"))
    return ops


def _fanout_ops(kv: Store, wf: str, rid: str, finishing_again: list[str]) -> list:
    """Each parent's fan-out, raised by its children that will finish again (those that had
    finished: a child that never did is not in its parent's count yet)."""
    raised: dict[str, int] = {}
    for iid in finishing_again:
        parent = parent_of(iid)
        if parent is not None:
            raised[parent] = raised.get(parent, 0) + 1
    ops = []
    for parent, more in raised.items():
        entry = kv.get(keys.fanout(wf, rid, parent))
        if entry is not None:
            ops.append(op_put(keys.fanout(wf, rid, parent), pack(unpack(entry.value) + more)))
    return ops
