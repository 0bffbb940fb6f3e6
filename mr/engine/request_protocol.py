"""The etcd transactions that begin, end and reopen a request: its record, its `live` key
(which every invocation's transaction requires, mr.engine.protocol) and its indexes (by state,
deadline, expiry and name), and, when it ends, the clean-up of its keys.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

from mr import metrics
from mr.engine import progress
from mr.engine.protocol import Unclaimed
from mr.fs import traces
from mr.kv import entities, keys
from mr.kv.client import (
    MAX_TXN_OPS,
    Entry,
    Op,
    TxnResult,
    cmp_absent,
    cmp_mod_revision,
    cmp_present,
    op_delete,
    op_get,
    op_put,
)
from mr.kv.codec import pack
from mr.kv.keys import DONE_MARK, FAILED_MARK, STARTED, WAITING_MARK
from mr.kv.models import DONE, FAILED, REDUCE, RUNNING, Invocation, Request, encode, reduced_of
from mr.kv.store import Store

ATOMIC_CLEANUP_INVOCATIONS = 100  # bigger done requests lose their keys a page at a time
PURGE_AFTER_S = 60.0              # ... and if their worker dies meanwhile, the sweeper ends it
END_READS = 20   # a failed request's final reads while its invocations still commit; then as is
REQUEUE_BATCH = (MAX_TXN_OPS - 1) // 3


def create_request(kv: Store, request: Request, root: Invocation, name_revision: int = 0) -> int:
    """The request record, its live marker, indexes and root invocation, in one transaction.

    A named request also (re)points its name at this request, if the name's key is still at
    `name_revision` (0: absent); 0 when another request took the name meanwhile. Else the
    revision that created the root invocation (its message may carry it: see
    protocol.claim()).
    """
    wf, rid = request.workflow, request.id
    compare = [cmp_absent(request.key)]
    ops = [op_put(request.key, encode(request)),
           op_put(keys.live(wf, rid), b"1"),
           op_put(keys.invocation(wf, rid, root.id), encode(root)),
           op_put(keys.state_entry(wf, RUNNING, request.job, request.created, rid), b"")]
    if request.deadline is not None:
        ops.append(op_put(keys.deadline(wf, request.deadline, rid), b""))
    if request.name is not None:
        name_key = keys.name(wf, request.name)
        compare.append(cmp_mod_revision(name_key, name_revision))
        ops.append(op_put(name_key, pack({"request_id": rid, "digest": request.digest})))
    root_key = keys.invocation(wf, rid, root.id)
    result = kv.txn(compare, ops, [op_get(request.key, count_only=True),
                                   op_get(root_key, keys_only=True)])
    if result.succeeded:
        return result.revision
    # Ids are random, so an existing key is this very write: its reply was lost (an etcd
    # member died after committing it) and the client's retry found it done.
    found = result.entry(1) if result.count(0) > 0 else None
    return found.mod_revision if found is not None else 0


_FINAL_MARKS: dict[str, str] = {DONE: DONE_MARK, FAILED: FAILED_MARK}

# Given an ended request, its invocation records (as etcd holds them, in key order) and its
# attempt logs by invocation and attempt: keeps its trace (mr.fs.traces).
TraceKeeper = Callable[[Request, Iterable[bytes], dict[str, dict[int, str]]], None]


def end_request(kv: Store, request: Request, invocations: list[Invocation], cleanup: bool,
                keep_trace: TraceKeeper | None = None,
                unclaimed: Unclaimed | None = None) -> bool:
    """Write the request's final record and close it; False if it had already ended.

    A done request's keys go when `cleanup` is on: in the same transaction for a small
    request, else a page at a time right after it (entities.delete_request_data says why),
    under a purge mark that lets the sweeper finish the job if this process dies first;
    a failed or cancelled one keeps its invocations (for inspection and retry) until it
    expires. The record keeps its final progress counts, and an unnamed one gets its expiry
    time.

    `keep_trace` gets the records before they go: read by the ending transaction itself for a
    small request (a range op before its delete: no extra proposal, no extra round trip), a
    page at a time before the page deletes for a bigger one. `unclaimed`: see Unclaimed.
    """
    wf, rid = request.workflow, request.id
    # Its callers set when it ended; a record without that ends now (as its purge mark does)
    finished = request.finished if request.finished is not None else time.time()
    # A done request ends after all its invocations (even one failed below for its deadline);
    # a failed or cancelled one while others may still commit, which its record must count
    others_run = request.state != DONE
    if request.state == DONE and request.deadline and finished > request.deadline:
        # Deadlines are strict: its client was told it timed out (etcd may have been down
        # when the deadline passed, so nobody could record it then).
        limit = request.deadline - request.created
        request.state, request.result, request.result_path = FAILED, None, None
        request.failure = {"reason": "timeout", "message": f"request timed out after "
                           f"{limit:g}s (its result came "
                           f"{finished - request.deadline:.1f}s late)"}
    live = keys.live(wf, rid)
    for read in range(END_READS):
        request.counts, request.tallies, read_at = progress.final(kv, request, invocations)
        keep = request.keep_s if request.state == DONE else request.keep_failed_s
        request.expires = None if request.name or keep is None else finished + keep
        ending = _ending(request, invocations, finished, cleanup, keep_trace, unclaimed)
        compare = [cmp_present(live)]
        if unclaimed is not None:
            compare.append(unclaimed.compare(wf, rid))
        watching = others_run and read < END_READS - 1
        if watching:   # the record keeps what the read saw only if nothing committed since
            compare += progress.unchanged_since(wf, rid, read_at)
        result = kv.txn(compare, ending.ops, [op_get(request.key)])
        # A reply lost to an etcd restart: the client's retry finds this very record (its
        # `finished` and counts are this call's) where a request ended by another would not.
        ended = result.succeeded or result.holds(0, ending.record)
        if ended or not watching or kv.get(live) is None:
            break
    if ended:
        metrics.ENDED.labels(wf, request.job, request.state).inc()
        if keep_trace is not None and (result.succeeded or not ending.removes_records):
            _keep(kv, request, invocations, keep_trace,
                  result if ending.reads and result.succeeded else None, ending.at)
        if ending.purge is not None:  # nothing writes to it once `live` is gone
            entities.delete_request_data(kv, wf, rid)
            kv.delete(ending.purge)
    return ended


class _Ending(NamedTuple):
    record: bytes      # the request's final record
    ops: list
    reads: list        # of the records, for keep_trace: ops `at` and `at + 1`
    at: int
    purge: str | None  # the purge mark of a request whose keys go a page at a time after
    removes_records: bool   # the invocation records go with the transaction itself


def _ending(request: Request, invocations: list[Invocation], finished: float, cleanup: bool,
            keep_trace: TraceKeeper | None, unclaimed: Unclaimed | None) -> _Ending:
    """The operations of the transaction that ends `request` as its record now says."""
    wf, rid = request.workflow, request.id
    record = encode(request)
    ops = [op_put(request.key, record),
           op_delete(keys.state_entry(wf, RUNNING, request.job, request.created, rid)),
           op_put(keys.state_entry(wf, request.state, request.job, request.created, rid), b"")]
    if request.deadline is not None:
        ops.append(op_delete(keys.deadline(wf, request.deadline, rid)))
    if request.expires is not None:
        ops.append(op_put(keys.expiry(wf, request.expires, rid), b""))
    counts = request.counts
    assert counts is not None   # end_request has just read them
    remove = cleanup and request.state == DONE
    big = sum(counts.values()) > ATOMIC_CLEANUP_INVOCATIONS
    in_pages = remove and counts["done"] > ATOMIC_CLEANUP_INVOCATIONS
    reads = [op_get(keys.invocations(wf, rid), prefix=True),
             op_get(keys.request_attempt_logs(wf, rid), prefix=True)] \
        if keep_trace is not None and not big and not in_pages else []
    at = len(ops)
    purge = None
    if remove and not in_pages:
        ops += reads + [op_delete(keys.request_data(wf, rid), prefix=True)]
    elif in_pages:
        purge = keys.purge(wf, finished + PURGE_AFTER_S, rid)
        ops += [op_delete(keys.live(wf, rid)), op_put(purge, b"")]
    else:
        ops.append(op_delete(keys.live(wf, rid)))
        if unclaimed is not None:
            ops.append(unclaimed.started(wf, rid))
        for inv in invocations:
            ops.append(op_put(keys.invocation(wf, rid, inv.id), encode(inv)))
            final = _FINAL_MARKS.get(inv.state)
            if final:
                ops.append(op_put(keys.mark(wf, rid, final, inv.id), b""))
            if inv.kind == REDUCE and inv.state == DONE:  # the root waits no more
                ops.append(op_delete(keys.mark(wf, rid, WAITING_MARK, reduced_of(inv.id))))
        at = len(ops)   # after the puts: the reads see the final records
        ops += reads
    return _Ending(record, ops, reads, at, purge, remove and not in_pages)


def _keep(kv: Store, request: Request, final: list[Invocation], keep_trace: TraceKeeper,
          read: TxnResult | None, at: int) -> None:
    """Hand the ended request's records to `keep_trace`: from the ending transaction's reads
    (ops `at`, `at+1`) or, for a big request, a page at a time from etcd. `final` are the
    records this end wrote (or, when it deleted them, would have): they replace what was read.
    """
    wf, rid = request.workflow, request.id
    log_prefix = keys.request_attempt_logs(wf, rid)
    records: Iterable[Entry]
    logs: Iterable[Entry]
    if read is not None:
        records, logs = read.entries(at), read.entries(at + 1)
    else:
        records, logs = kv.scan(keys.invocations(wf, rid)), kv.scan(log_prefix)
    latest = {keys.invocation(wf, rid, inv.id): encode(inv) for inv in final}
    keep_trace(request, (latest.get(entry.key, entry.value) for entry in records),
               traces.logs_by_invocation(logs, log_prefix))


def reopen(kv: Store, request: Request, read_revision: int, previous_state: str,
           previous_expiry: float | None) -> bool:
    """Make an ended request run again (retry): False if it changed since it was read."""
    wf, rid = request.workflow, request.id
    record = encode(request)
    ops = [op_put(request.key, record),
           op_put(keys.live(wf, rid), b"1"),
           op_delete(keys.state_entry(wf, previous_state, request.job, request.created, rid)),
           op_put(keys.state_entry(wf, RUNNING, request.job, request.created, rid), b"")]
    if request.deadline is not None:
        ops.append(op_put(keys.deadline(wf, request.deadline, rid), b""))
    if previous_expiry is not None:
        ops.append(op_delete(keys.expiry(wf, previous_expiry, rid)))
    result = kv.txn([cmp_mod_revision(request.key, read_revision),
                     cmp_absent(keys.live(wf, rid))], ops, [op_get(request.key)])
    return result.succeeded or result.holds(0, record)   # holds: its reply was lost


def requeue(kv: Store, wf: str, rid: str, invocations: list[Invocation]) -> bool:
    """Put up to REQUEUE_BATCH unfinished invocations back to queued, marks and all."""
    ops: list[Op] = []
    for inv in invocations:
        ops += [op_put(keys.invocation(wf, rid, inv.id), encode(inv)),
                op_delete(keys.mark(wf, rid, STARTED, inv.id)),
                op_delete(keys.mark(wf, rid, FAILED_MARK, inv.id))]
    return kv.txn([cmp_present(keys.live(wf, rid))], ops).succeeded
