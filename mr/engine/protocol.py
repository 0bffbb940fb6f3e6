"""The etcd transactions that move an invocation forward within a running request: claiming
it, creating its children, storing its output and scheduling its parent's reduction. Every
invariant of DESIGN.md §4 about an invocation's state lives here; a request's own beginning,
end and reopening are mr.engine.request_protocol's.

Exactly-once effect: an invocation's output key `out/<parent>/<iid>` is created only if absent,
in the same transaction that marks it done, so a re-run or a duplicate message cannot count
twice. Every write also requires the request's `live` key (which request_protocol creates and
deletes), so nothing is written into a request that has already ended (failed, timed out, or
finished and cleaned up).

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

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from mr.engine import tallies
from mr.kv import keys
from mr.kv.client import (
    MAX_TXN_OPS,
    Compare,
    Entry,
    Op,
    cmp_absent,
    cmp_mod_revision,
    cmp_present,
    cmp_value,
    op_delete,
    op_get,
    op_put,
)
from mr.kv.codec import pack, unpack
from mr.kv.keys import DONE_MARK, STARTED, WAITING_MARK
from mr.kv.models import Invocation, encode, parent_of
from mr.kv.store import Store

CHILD_BATCH = MAX_TXN_OPS - 1  # one compare slot is taken by the request's live key
FIRST_CHILD_BATCH = 16
COUNTER_SLOTS = 16            # siblings finishing together rarely write the same key
MAX_TXN_BYTES = 1024 * 1024   # etcd refuses requests over 1.5 MiB (--max-request-bytes)


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


def read_invocation(kv: Store, wf: str, rid: str, iid: str, request_value: bool = False
                    ) -> tuple[Entry | None, Entry | None, bool, bool]:
    """One round trip, no proposal: (invocation entry, request entry (without its value
    unless `request_value`), request is live, request is paused)."""
    result = kv.txn([], [op_get(keys.invocation(wf, rid, iid)),
                         op_get(keys.request(wf, rid), keys_only=not request_value),
                         op_get(keys.live(wf, rid), count_only=True),
                         op_get(keys.paused(wf, rid), count_only=True)])
    return result.entry(0), result.entry(1), result.count(2) > 0, result.count(3) > 0


def request_live(kv: Store, wf: str, rid: str) -> bool:
    """Whether the request still runs (one read, no proposal): not done, failed, cancelled,
    timed out or removed."""
    return kv.count(keys.live(wf, rid)) > 0


def start(kv: Store, wf: str, rid: str, read_revision: int, inv: Invocation, *,
          under_way: bool = False) -> Callable[[], bool]:
    """Mark `inv` running if nobody changed it since we read it at `read_revision`.

    Two copies of one message (a duplicate publish) race here and only one owns the run.
    Returns a waiter, so a mapper can run while its claim commits. A pause refuses the
    claim of a run about to start, not of one `under_way` since before it (a run claimed
    lazily read the request unpaused): a pause starts nothing new, and lets runs finish.
    """
    key = keys.invocation(wf, rid, inv.id)
    unpaused = [] if under_way else [cmp_absent(keys.paused(wf, rid))]
    waiter = kv.submit([cmp_present(keys.live(wf, rid)), *unpaused,
                        cmp_mod_revision(key, read_revision)],
                       [op_put(key, encode(inv)),
                        op_put(keys.mark(wf, rid, STARTED, inv.id), b"")])
    return lambda: waiter().succeeded


def claim(kv: Store, wf: str, rid: str, revision: int, record: bytes, iid: str,
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


def create_children(kv: Store, wf: str, rid: str,
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


def _create_chunk(kv: Store, wf: str, rid: str, chunk: list[tuple[Invocation, bytes]],
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


def finish_fanout(kv: Store, wf: str, rid: str, parent: Invocation, children: int) -> Completion:
    """Record that `parent` made `children` children and is waiting; is it already ready?"""
    live = keys.live(wf, rid)
    result = kv.txn([cmp_present(live)], [
        op_put(keys.fanout(wf, rid, parent.id), pack(children)),
        op_put(keys.invocation(wf, rid, parent.id), encode(parent)),
        op_put(keys.mark(wf, rid, WAITING_MARK, parent.id), b""),
        op_get(keys.counters(wf, rid, parent.id), prefix=True, keys_only=True),
        *tallies.puts(wf, rid, [parent]),
    ])
    if not result.succeeded:
        return Completion(False, False)
    return Completion(True, True,
                      parent_ready=_finished_children(result.entries(3)) >= children)


def complete(kv: Store, wf: str, rid: str, finished: list[Invocation], output_of: str,
             output: bytes, unclaimed: Unclaimed | None = None) -> Completion:
    """Store the output of child invocation `output_of` and mark `finished` done, once.

    `finished` is the mapper itself (and, for a fan-out parent, its reduce invocation too).
    The root has no parent: its output ends the request (request_protocol.end_request). With
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
    ops += tallies.puts(wf, rid, finished)
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


def parent_ready(kv: Store, wf: str, rid: str, parent: str) -> bool:
    """Re-check readiness from etcd alone (a redelivered message for a finished child)."""
    result = kv.txn([], [op_get(keys.fanout(wf, rid, parent)),
                         op_get(keys.counters(wf, rid, parent), prefix=True, keys_only=True)])
    return _ready(result.entry(0), result.entries(1))


def _ready(fan_entry: Entry | None, counters: Iterable[Entry]) -> bool:
    if fan_entry is None:
        return False  # the parent is still making children; its finish_fanout will check
    return _finished_children(counters) >= unpack(fan_entry.value)


def claim_reduce(kv: Store, wf: str, rid: str, iid: str, record: bytes) -> int:
    """Create reduce invocation `iid` (`record`) if absent: its revision for exactly one
    caller, who publishes it; 0 for the others.

    A caller whose commit's reply was lost (etcd stopped after applying it) finds its own
    record on the client's retry: still that record (each caller's carries its own creation
    time), so still unclaimed, it is this caller's to publish; else the request would stall
    until MR_STALL_S.
    """
    key, live = keys.invocation(wf, rid, iid), keys.live(wf, rid)
    result = kv.txn([cmp_present(live), cmp_absent(key)], [op_put(key, record)],
                    [op_get(live, count_only=True), op_get(key)])
    if result.succeeded:
        return result.revision
    found = result.entry(1) if result.count(0) > 0 else None
    return found.mod_revision if found is not None and found.value == record else 0


def child_outputs(kv: Store, wf: str, rid: str, parent: str) -> Iterator[bytes]:
    """Each child's output (packed pairs), in key order, a page at a time."""
    for entry in kv.scan(keys.outputs(wf, rid, parent)):
        yield entry.value


def child_outputs_in_order(kv: Store, wf: str, rid: str, parent: str) -> list[bytes]:
    """Each child's output in the order its parent made them (a data step's splits: the
    input's order), which etcd's key order is not: child 10 sorts before child 2."""
    entries = list(kv.scan(keys.outputs(wf, rid, parent)))
    entries.sort(key=lambda entry: int(entry.key.rsplit(".", 1)[1]))
    return [entry.value for entry in entries]
