"""How far a request, or any invocation's subtree, has got — from count-only ranges.

Every invocation is created as a key under inv/ and gets a progress mark (keys.MARKS) as it
starts, fans out, finishes or fails. Invocation ids are hierarchical ("0.3.17", "0.3.r"), so
the subtree of "0.3" is the key "0.3" plus every key starting with "0.3."; two count-only
ranges per mark give its counts in one read transaction, without loading any invocation.

A started invocation is in exactly one of running, waiting, done or failed (a parent's
waiting mark goes when it is done), so running = started - waiting - done - failed and
queued = created - started. The estimate of time left is the observed completion rate of
the subtree applied to what remains: siblings running in parallel raise the rate instead of
adding up.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace

from mr.engine import tallies
from mr.kv import keys
from mr.kv.client import TxnResult, cmp_unchanged_since, op_get
from mr.kv.keys import DONE_MARK, FAILED_MARK, STARTED, WAITING_MARK
from mr.kv.models import (
    DONE,
    FAILED,
    PAUSED,
    ROOT_INVOCATION,
    RUNNING,
    STOPPED,
    Invocation,
    Request,
    decode,
)
from mr.kv.store import Store

STATES = ("queued", "running", "waiting", "done", "failed", "skipped")


STATUS_READ, STATUS_SHOWN = 100, 10   # status messages read from a subtree, and shown


class ProgressUnavailable(LookupError):
    """The request or invocation does not exist, or its records were cleaned up."""


@dataclass
class Progress:
    workflow: str
    request_id: str
    invocation: str
    state: str                  # the request's state
    counts: dict = field(default_factory=dict)
    total: int = 0
    percent: float = 0.0
    started: float | None = None
    finished: float | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None  # None once it has ended, and until something finished or an
    #                              expected duration (expected_s) says how long it takes
    # status messages of the subtree's handlers (ctx.status), the newest first
    status: list[dict] = field(default_factory=list)
    tallies: dict | None = None  # what the subtree's committed runs tallied (ctx.tally)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def ended(self) -> bool:
        """The request has ended, or the subtree asked about has finished."""
        return self.state not in (RUNNING, PAUSED) or self.finished is not None


def _count_ops(wf: str, rid: str, iid: str) -> list:
    """Two count-only ranges (the invocation, its descendants) per kind of key."""
    ops = []
    for prefix in [keys.invocations(wf, rid)] + [keys.marks(wf, rid, m) for m in
                                                  (STARTED, WAITING_MARK, DONE_MARK,
                                                   FAILED_MARK)]:
        ops.append(op_get(prefix + iid, count_only=True))
        ops.append(op_get(prefix + iid + ".", prefix=True, count_only=True))
    return ops


def _sums(result: TxnResult, first: int) -> list[int]:
    """The five counts (created, started, waiting, done, failed) of _count_ops' replies."""
    return [result.count(first + i) + result.count(first + i + 1) for i in range(0, 10, 2)]


def counts_of(created: int, started: int, waiting: int, done: int, failed: int,
              ended: bool) -> dict:
    running = max(started - waiting - done - failed, 0)
    queued = max(created - started, 0)
    skipped = 0
    if ended:  # what had not finished when the request ended will never run (unless retried)
        skipped, queued, running = queued + running, 0, 0
    return {"queued": queued, "running": running, "waiting": waiting, "done": done,
            "failed": failed, "skipped": skipped}


def read(kv: Store, wf: str, rid: str, iid: str = ROOT_INVOCATION) -> Progress:
    """The progress of request `rid` (iid "0") or of invocation `iid`'s subtree."""
    statuses = keys.statuses(wf, rid)
    result = kv.txn([], [op_get(keys.request(wf, rid)), op_get(keys.invocation(wf, rid, iid)),
                         op_get(keys.live(wf, rid), count_only=True)]
                    + _count_ops(wf, rid, iid)
                    + [op_get(statuses + iid),
                       op_get(statuses + iid + ".", prefix=True, limit=STATUS_READ),
                       op_get(keys.paused(wf, rid), count_only=True)]
                    + tallies.reads(wf, rid, iid))
    req_entry, inv_entry = result.entry(0), result.entry(1)
    if req_entry is None:
        raise ProgressUnavailable(f"request {rid!r} not found in workflow {wf!r}")
    request = decode(Request, req_entry.value)
    live = result.count(2) > 0
    if inv_entry is None:
        if iid == ROOT_INVOCATION and request.counts is not None:
            return _finished(request, request.counts)
        raise ProgressUnavailable(
            f"invocation {iid!r} of request {rid!r} not found" + (
                "" if live else "; a finished request's invocations are removed unless it is "
                                "named or MR_CLEANUP=0"))
    inv = decode(Invocation, inv_entry.value)
    created, started, waiting, done, failed = _sums(result, 3)
    status = _status(result.entries(13) + result.entries(14), statuses)
    counts = counts_of(created, started, waiting, done, failed, ended=not live)
    begun = request.created if iid == ROOT_INVOCATION else inv.started
    end = request.finished if not live else (inv.finished if inv.state in (DONE, FAILED)
                                             else None)
    state = request.state if iid == ROOT_INVOCATION else _subtree_state(inv, request)
    if state == RUNNING and result.count(15):
        state = PAUSED
    tallied = tallies.total(result.entries(16) + result.entries(17), keys.tallies(wf, rid))
    return replace(_progress(request, iid, state, counts, created, begun, end), status=status,
                   tallies=tallied)


def _status(entries: list, prefix: str) -> list[dict]:
    newest = sorted(entries, key=lambda e: e.mod_revision, reverse=True)[:STATUS_SHOWN]
    return [{"invocation": e.key[len(prefix):], "message": e.value.decode(errors="replace")}
            for e in newest]


def _subtree_state(inv: Invocation, request: Request) -> str:
    """A subtree is done or failed with its top invocation, whatever the rest of the request."""
    if inv.state in (DONE, FAILED):
        return inv.state
    return RUNNING if request.state == RUNNING else STOPPED


def _finished(request: Request, kept: dict) -> Progress:
    """An ended request's progress from the counts kept in its record (`kept`)."""
    counts = dict(kept)
    total = sum(counts.values())
    return replace(_progress(request, ROOT_INVOCATION, request.state, counts, total,
                             request.created, request.finished), tallies=request.tallies)


def _progress(request: Request, iid: str, state: str, counts: dict, total: int,
              begun: float | None, end: float | None) -> Progress:
    now = time.time()
    elapsed = ((end or now) - begun) if begun else 0.0
    done = counts["done"]
    eta = None
    if end is None and begun:
        expected = request.expected_s if iid == ROOT_INVOCATION else None
        eta = estimate(elapsed, done, total, expected)
    return Progress(workflow=request.workflow, request_id=request.id, invocation=iid,
                    state=state, counts=counts, total=total,
                    percent=round(100.0 * done / total, 1) if total else 0.0,
                    started=begun, finished=end, elapsed_s=round(max(elapsed, 0.0), 3),
                    eta_s=eta)


def estimate(elapsed: float, done: int, total: int, expected: float | None) -> float | None:
    """Seconds left: from the observed rate once something is done, from the expected
    duration before that, and a blend of the two, weighted by the share done, in between
    (the rate of a subtree's parallel children is theirs together, not a sum of times)."""
    observed = elapsed / done * (total - done) if done and total > done else None
    if expected is None:
        return None if observed is None else round(observed, 3)
    planned = max(expected - elapsed, 0.0)
    if observed is None:
        return round(planned, 3) if total > done else None
    share = done / total
    return round(share * observed + (1 - share) * planned, 3)


def final(kv: Store, request: Request, invocations: list[Invocation]
          ) -> tuple[dict, dict | None, int]:
    """The progress counts and the tallies to keep in an ending request's record, in one
    read, and that read's revision; `invocations` are being finished now."""
    wf, rid = request.workflow, request.id
    if request.state == DONE:
        # a root that returned without children was the request's only invocation: no read
        if [inv.id for inv in invocations] == [ROOT_INVOCATION] and not invocations[0].children:
            return counts_of(1, 1, 0, 1, 0, ended=True), tallies.total([], "", invocations), 0
        result = kv.txn([], [op_get(keys.invocations(wf, rid), prefix=True, count_only=True),
                             op_get(keys.tallies(wf, rid), prefix=True)])
        total = result.count(0)
        return (counts_of(total, total, 0, total, 0, ended=True),
                tallies.total(result.entries(1), keys.tallies(wf, rid), invocations),
                result.revision)
    result = kv.txn([], _count_ops(wf, rid, ROOT_INVOCATION)
                    + [op_get(keys.tallies(wf, rid), prefix=True)])
    created, started, waiting, done, failed = _sums(result, 0)
    failed += sum(1 for inv in invocations if inv.state == FAILED)
    done += sum(1 for inv in invocations if inv.state == DONE)
    return (counts_of(created, started, waiting, done, failed, ended=True),
            tallies.total(result.entries(10), keys.tallies(wf, rid), invocations),
            result.revision)


def unchanged_since(wf: str, rid: str, revision: int) -> list:
    """Compares that hold while no invocation of the request has been marked or tallied
    since `revision`: what `final` read then is still the whole story."""
    return [cmp_unchanged_since(keys.marks_of(wf, rid), revision),
            cmp_unchanged_since(keys.tallies(wf, rid), revision)]


def follow(kv: Store, wf: str, rid: str, iid: str = ROOT_INVOCATION,
           interval: float = 0.25) -> Iterator[Progress]:
    """Progress now, then again after changes (at most every `interval` s) until it ends.

    Driven by one etcd watch on the request's keys; nothing is read while nothing changes.
    """
    revision = kv.revision()  # any change after this wakes us, so none is missed
    current = read(kv, wf, rid, iid)
    yield current
    if current.ended:
        return
    changes: queue.Queue = queue.Queue()
    watch = kv.watch_prefix(keys.request_data(wf, rid), revision + 1)

    def pump() -> None:
        try:
            for _revision, _events in watch:
                changes.put(True)
        except Exception as exc:  # the watch broke: let the reader re-read and end
            changes.put(exc)
        changes.put(None)
    threading.Thread(target=pump, name="progress-watch", daemon=True).start()
    try:
        while True:
            item = changes.get()
            deadline = time.monotonic() + interval
            while item is True and time.monotonic() < deadline:  # coalesce a burst
                try:
                    item = changes.get(timeout=max(deadline - time.monotonic(), 0))
                except queue.Empty:
                    break
            current = read(kv, wf, rid, iid)
            yield current
            if current.ended or item is None or isinstance(item, Exception):
                return
    finally:
        watch.cancel()

