"""The etcd transactions that move a request forward. Every invariant of DESIGN.md §4 that is
about state lives here.

Exactly-once effect: an invocation's output key `out/<parent>/<iid>` is created only if absent,
in the same transaction that marks it done, so a re-run or a duplicate message cannot count
twice. Every write also requires the request's `live` key, so nothing is written into a
request that has already ended (failed, timed out, or finished and cleaned up).

Exactly one reducer run per parent: a parent is ready when it has recorded its number of
children N (`fan/<parent>`) and N children have finished. A finishing child bumps one of
COUNTER_SLOTS counter keys of its parent in its completion transaction, so the number of
finished children is the sum of those keys' versions — read inside the same transaction, in
O(slots) rather than O(children). Whoever commits the last of those writes (the parent finishing
its fan-out, or the last child) reads both in its own transaction and sees the parent ready;
a transaction that commits later always sees what committed earlier. Every candidate then
races to create the reduce invocation `<parent>.r` if absent; only its creator publishes it.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from mr import metrics
from mr.engine import progress
from mr.fs import traces
from mr.kv import entities, keys
from mr.kv.client import (
    KV,
    MAX_TXN_OPS,
    Compare,
    Entry,
    Op,
    TxnResult,
    cmp_absent,
    cmp_mod_revision,
    cmp_present,
    cmp_value,
    op_delete,
    op_get,
    op_put,
)
from mr.kv.codec import pack, unpack
from mr.kv.keys import DONE_MARK, FAILED_MARK, STARTED, WAITING_MARK
from mr.kv.models import (
    DONE,
    FAILED,
    REDUCE,
    RUNNING,
    Invocation,
    Request,
    encode,
    parent_of,
    reduced_of,
)

CHILD_BATCH = MAX_TXN_OPS - 1  # one compare slot is taken by the request's live key
FIRST_CHILD_BATCH = 16
COUNTER_SLOTS = 16            # siblings finishing together rarely write the same key
MAX_TXN_BYTES = 1024 * 1024   # etcd refuses requests over 1.5 MiB (--max-request-bytes)
ATOMIC_CLEANUP_INVOCATIONS = 100  # bigger done requests lose their keys a page at a time
PURGE_AFTER_S = 60.0              # ... and if their worker dies meanwhile, the sweeper ends it


def _slot(iid: str) -> int:
    return int(iid.rsplit(".", 1)[1]) % COUNTER_SLOTS


def _finished_children(entries: Iterable[Entry]) -> int:
    return sum(entry.version for entry in entries)


@dataclass(frozen=True)
class Unclaimed:
    """A run etcd has not heard of, of invocation `iid` read at `revision`: its completion
    claims it too (started mark and all), holding only if nobody changed the record since."""
    iid: str
    revision: int

    def compare(self, wf: str, rid: str) -> Compare:
        return cmp_mod_revision(keys.invocation(wf, rid, self.iid), self.revision)

    def started(self, wf: str, rid: str) -> Op:
        return op_put(keys.mark(wf, rid, STARTED, self.iid), b"")


@dataclass(frozen=True)
class Completion:
    committed: bool        # False: the output already existed or the request had ended
    request_live: bool
    parent_ready: bool = False


def create_request(kv: KV, request: Request, root: Invocation, name_revision: int = 0) -> int:
    """The request record, its live marker, indexes and root invocation, in one transaction.

    A named request also (re)points its name at this request, if the name's key is still at
    `name_revision` (0: absent); 0 when another request took the name meanwhile. Else the
    revision that created the root invocation (its message may carry it: see claim()).
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


def start(kv: KV, wf: str, rid: str, read_revision: int,
          inv: Invocation) -> Callable[[], bool]:
    """Mark `inv` running if nobody changed it since we read it at `read_revision`.

    Two copies of one message (a duplicate publish) race here and only one owns the run.
    Returns a waiter, so a mapper can run while its claim commits.
    """
    key = keys.invocation(wf, rid, inv.id)
    waiter = kv.submit([cmp_present(keys.live(wf, rid)), cmp_absent(keys.paused(wf, rid)),
                        cmp_mod_revision(key, read_revision)],
                       [op_put(key, encode(inv)),
                        op_put(keys.mark(wf, rid, STARTED, inv.id), b"")])
    return lambda: waiter().succeeded


def claim(kv: KV, wf: str, rid: str, revision: int, record: bytes, iid: str,
          running: bytes) -> Entry | None:
    """Claim a just-published invocation without reading it first: `record` and `revision`
    come from its message. Holds only if etcd still has exactly that record, unchanged since
    `revision` (so a first delivery; a duplicate, a redelivery or a forged record fails and
    takes the read-then-start() path); it then becomes `running`. Returns the request
    record's key entry (its mod revision, no value: claiming keeps decoded requests), or None.
    """
    key = keys.invocation(wf, rid, iid)
    result = kv.txn([cmp_present(keys.live(wf, rid)), cmp_absent(keys.paused(wf, rid)),
                     cmp_mod_revision(key, revision), cmp_value(key, record)],
                    [op_put(key, running), op_put(keys.mark(wf, rid, STARTED, iid), b""),
                     op_get(keys.request(wf, rid), keys_only=True)])
    return result.entry(2) if result.succeeded else None


def create_children(kv: KV, wf: str, rid: str,
                    children: list[Invocation]) -> list[tuple[bytes, int]] | None:
    """Create up to CHILD_BATCH children; None if the request has ended.

    One transaction, or a few when their records would pass MAX_TXN_BYTES (etcd refuses
    requests over 1.5 MiB). Children that already exist (a re-run of the parent after a
    crash) are left as they are. Returns each child's record and the revision that created
    it (0 for one that existed): their messages carry them (see claim()).
    """
    created: list[tuple[bytes, int]] = []
    chunk: list[tuple[Invocation, bytes]] = []
    size = 0
    for child in children:
        record = encode(child)
        if chunk and size + len(record) > MAX_TXN_BYTES:
            if not _create_chunk(kv, wf, rid, chunk, created):
                return None
            chunk, size = [], 0
        chunk.append((child, record))
        size += len(record)
    if chunk and not _create_chunk(kv, wf, rid, chunk, created):
        return None
    return created


def _create_chunk(kv: KV, wf: str, rid: str, chunk: list[tuple[Invocation, bytes]],
                  created: list[tuple[bytes, int]]) -> bool:
    live = keys.live(wf, rid)
    child_keys = [keys.invocation(wf, rid, child.id) for child, _ in chunk]
    result = kv.txn([cmp_present(live)] + [cmp_absent(k) for k in child_keys],
                    [op_put(k, record) for k, (_, record) in zip(child_keys, chunk)],
                    [op_get(live, count_only=True)])
    if result.succeeded:
        created += [(record, result.revision) for _, record in chunk]
        return True
    if result.count(0) == 0:
        return False
    for key, (_, record) in zip(child_keys, chunk):  # slow path: some exist already
        single = kv.txn([cmp_present(live), cmp_absent(key)], [op_put(key, record)],
                        [op_get(live, count_only=True)])
        if not single.succeeded and single.count(0) == 0:
            return False
        created.append((record, single.revision if single.succeeded else 0))
    return True


def finish_fanout(kv: KV, wf: str, rid: str, parent: Invocation, children: int) -> Completion:
    """Record that `parent` made `children` children and is waiting; is it already ready?"""
    live = keys.live(wf, rid)
    result = kv.txn([cmp_present(live)], [
        op_put(keys.fanout(wf, rid, parent.id), pack(children)),
        op_put(keys.invocation(wf, rid, parent.id), encode(parent)),
        op_put(keys.mark(wf, rid, WAITING_MARK, parent.id), b""),
        op_get(keys.counters(wf, rid, parent.id), prefix=True, keys_only=True),
    ])
    if not result.succeeded:
        return Completion(False, False)
    return Completion(True, True,
                      parent_ready=_finished_children(result.entries(3)) >= children)


def complete(kv: KV, wf: str, rid: str, finished: list[Invocation], output_of: str,
             output: bytes, unclaimed: Unclaimed | None = None) -> Completion:
    """Store the output of child invocation `output_of` and mark `finished` done, once.

    `finished` is the mapper itself (and, for a fan-out parent, its reduce invocation too).
    The root has no parent: its output ends the request (end_request) instead. With
    `unclaimed` the same transaction claims the run (see Unclaimed).
    """
    parent = parent_of(output_of)
    if parent is None:
        raise ValueError(f"invocation {output_of} is a root: its output ends the request")
    live = keys.live(wf, rid)
    out_key = keys.output(wf, rid, parent, output_of)
    ops = [op_put(out_key, output)]
    ops += [op_put(keys.invocation(wf, rid, inv.id), encode(inv)) for inv in finished]
    ops += [op_put(keys.mark(wf, rid, DONE_MARK, inv.id), b"") for inv in finished]
    if len(finished) > 1:  # a fan-out parent with its reduction: it waits no more
        ops.append(op_delete(keys.mark(wf, rid, WAITING_MARK, output_of)))
    compare = [cmp_present(live), cmp_absent(out_key)]
    if unclaimed is not None:
        compare.append(unclaimed.compare(wf, rid))
        ops.append(unclaimed.started(wf, rid))
    ops += [op_put(keys.counter(wf, rid, parent, _slot(output_of)), b""),
            op_get(keys.counters(wf, rid, parent), prefix=True, keys_only=True),
            op_get(keys.fanout(wf, rid, parent))]
    result = kv.txn(compare, ops,
                    [op_get(live, count_only=True), op_get(keys.fanout(wf, rid, parent)),
                     op_get(keys.counters(wf, rid, parent), prefix=True, keys_only=True)])
    if not result.succeeded:
        # A duplicate or (unclaimed) another run came first, or our own commit's reply was
        # lost (then we may have been the last child). Say whether the parent is ready: the
        # reduction's create-if-absent claim keeps it to one run.
        live_now = result.count(0) > 0
        return Completion(False, request_live=live_now,
                          parent_ready=live_now and _ready(result.entry(1), result.entries(2)))
    return Completion(True, True, parent_ready=_ready(result.entry(len(ops) - 1),
                                                      result.entries(len(ops) - 2)))


def parent_ready(kv: KV, wf: str, rid: str, parent: str) -> bool:
    """Re-check readiness from etcd alone (a redelivered message for a finished child)."""
    result = kv.txn([], [op_get(keys.fanout(wf, rid, parent)),
                         op_get(keys.counters(wf, rid, parent), prefix=True, keys_only=True)])
    return _ready(result.entry(0), result.entries(1))


def _ready(fan_entry: Entry | None, counters: Iterable[Entry]) -> bool:
    if fan_entry is None:
        return False  # the parent is still making children; its finish_fanout will check
    return _finished_children(counters) >= unpack(fan_entry.value)


def claim_reduce(kv: KV, wf: str, rid: str, iid: str, record: bytes) -> int:
    """Create reduce invocation `iid` (`record`) if absent: its revision for exactly one
    caller, who publishes it; 0 for the others."""
    key = keys.invocation(wf, rid, iid)
    result = kv.txn([cmp_present(keys.live(wf, rid)), cmp_absent(key)], [op_put(key, record)])
    return result.revision if result.succeeded else 0


_FINAL_MARKS: dict[str, str] = {DONE: DONE_MARK, FAILED: FAILED_MARK}

# Given an ended request, its invocation records (as etcd holds them, in key order) and its
# attempt logs by invocation and attempt: keeps its trace (mr.fs.traces).
TraceKeeper = Callable[[Request, Iterable[bytes], dict[str, dict[int, str]]], None]


def end_request(kv: KV, request: Request, invocations: list[Invocation], cleanup: bool,
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
    if request.state == DONE and request.deadline and finished > request.deadline:
        # Deadlines are strict: its client was told it timed out (etcd may have been down
        # when the deadline passed, so nobody could record it then).
        limit = request.deadline - request.created
        request.state, request.result, request.result_path = FAILED, None, None
        request.failure = {"reason": "timeout", "message": f"request timed out after "
                           f"{limit:g}s (its result came "
                           f"{finished - request.deadline:.1f}s late)"}
    request.counts = progress.final_counts(kv, request, invocations)
    keep = request.keep_s if request.state == DONE else request.keep_failed_s
    request.expires = None if request.name or keep is None else finished + keep
    ops = [op_put(request.key, encode(request)),
           op_delete(keys.state_entry(wf, RUNNING, request.job, request.created, rid)),
           op_put(keys.state_entry(wf, request.state, request.job, request.created, rid), b"")]
    if request.deadline is not None:
        ops.append(op_delete(keys.deadline(wf, request.deadline, rid)))
    if request.expires is not None:
        ops.append(op_put(keys.expiry(wf, request.expires, rid), b""))
    remove = cleanup and request.state == DONE
    big = sum(request.counts.values()) > ATOMIC_CLEANUP_INVOCATIONS
    in_pages = remove and request.counts["done"] > ATOMIC_CLEANUP_INVOCATIONS
    reads = [op_get(keys.invocations(wf, rid), prefix=True),
             op_get(keys.request_attempt_logs(wf, rid), prefix=True)] \
        if keep_trace is not None and not big and not in_pages else []
    at = len(ops)
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
    compare = [cmp_present(keys.live(wf, rid))]
    if unclaimed is not None:
        compare.append(unclaimed.compare(wf, rid))
    result = kv.txn(compare, ops)
    ended = result.succeeded
    if ended:
        metrics.ENDED.labels(wf, request.job, request.state).inc()
        if keep_trace is not None:
            _keep(kv, request, invocations, keep_trace, result if reads else None, at)
        if in_pages:  # nothing writes to it once `live` is gone
            entities.delete_request_data(kv, wf, rid)
            kv.delete(purge)
    return ended


def _keep(kv: KV, request: Request, final: list[Invocation], keep_trace: TraceKeeper,
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


def read_invocation(kv: KV, wf: str, rid: str, iid: str, request_value: bool = False
                    ) -> tuple[Entry | None, Entry | None, bool, bool]:
    """One round trip, no proposal: (invocation entry, request entry (without its value
    unless `request_value`), request is live, request is paused)."""
    result = kv.txn([], [op_get(keys.invocation(wf, rid, iid)),
                         op_get(keys.request(wf, rid), keys_only=not request_value),
                         op_get(keys.live(wf, rid), count_only=True),
                         op_get(keys.paused(wf, rid), count_only=True)])
    return result.entry(0), result.entry(1), result.count(2) > 0, result.count(3) > 0


def child_outputs(kv: KV, wf: str, rid: str, parent: str) -> Iterator[bytes]:
    """Each child's output (packed pairs), in key order, a page at a time."""
    for entry in kv.scan(keys.outputs(wf, rid, parent)):
        yield entry.value


def child_outputs_in_order(kv: KV, wf: str, rid: str, parent: str) -> list[bytes]:
    """Each child's output in the order its parent made them (a data step's splits: the
    input's order), which etcd's key order is not: child 10 sorts before child 2."""
    entries = list(kv.scan(keys.outputs(wf, rid, parent)))
    entries.sort(key=lambda entry: int(entry.key.rsplit(".", 1)[1]))
    return [entry.value for entry in entries]


REQUEUE_BATCH = (MAX_TXN_OPS - 1) // 3


def reopen(kv: KV, request: Request, read_revision: int, previous_state: str,
           previous_expiry: float | None) -> bool:
    """Make an ended request run again (retry): False if it changed since it was read."""
    wf, rid = request.workflow, request.id
    ops = [op_put(request.key, encode(request)),
           op_put(keys.live(wf, rid), b"1"),
           op_delete(keys.state_entry(wf, previous_state, request.job, request.created, rid)),
           op_put(keys.state_entry(wf, RUNNING, request.job, request.created, rid), b"")]
    if request.deadline is not None:
        ops.append(op_put(keys.deadline(wf, request.deadline, rid), b""))
    if previous_expiry is not None:
        ops.append(op_delete(keys.expiry(wf, previous_expiry, rid)))
    return kv.txn([cmp_mod_revision(request.key, read_revision), cmp_absent(keys.live(wf, rid))],
                  ops).succeeded


def requeue(kv: KV, wf: str, rid: str, invocations: list[Invocation]) -> bool:
    """Put up to REQUEUE_BATCH unfinished invocations back to queued, marks and all."""
    ops: list[Op] = []
    for inv in invocations:
        ops += [op_put(keys.invocation(wf, rid, inv.id), encode(inv)),
                op_delete(keys.mark(wf, rid, STARTED, inv.id)),
                op_delete(keys.mark(wf, rid, FAILED_MARK, inv.id))]
    return kv.txn([cmp_present(keys.live(wf, rid))], ops).succeeded
