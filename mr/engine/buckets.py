"""A request's (or subtree's) children grouped by how far along each one is.

PyAnamo's nested-task summary: which child subtrees have not started, which are 1-25 %,
26-75 % or 76-99 % done, which are done and which hold a failure, with their ids. Counted from
the progress marks with one keys-only scan per kind of mark, so it is bounded to subtrees of
MAX_INVOCATIONS (the request's progress counts stay the cheap, always-available view).
"""
from __future__ import annotations

from collections import Counter

from mr.engine.progress import ProgressUnavailable
from mr.kv import keys
from mr.kv.client import op_get
from mr.kv.keys import DONE_MARK, FAILED_MARK, STARTED
from mr.kv.models import REDUCE_SUFFIX
from mr.kv.store import Store

BUCKETS = ("not started", "1-25%", "26-75%", "76-99%", "done", "failed")
MAX_INVOCATIONS = 50_000


class TooBig(ValueError):
    """The subtree is too large to group child by child; its counts say how far it is."""


def by_progress(kv: Store, wf: str, rid: str, iid: str = "0") -> dict:
    """{"invocation", "children", "buckets": {bucket: [child ids]}} for `iid`'s children;
    ProgressUnavailable when `iid` is not there."""
    found = kv.txn([], [op_get(keys.invocation(wf, rid, iid), count_only=True),
                        op_get(keys.invocations(wf, rid) + iid + ".", prefix=True,
                               count_only=True)])
    if not found.count(0):
        raise ProgressUnavailable(f"invocation {iid!r} of request {rid!r} not found (a "
                                  f"finished request's invocations are removed unless it is "
                                  f"named or MR_CLEANUP=0)")
    size = found.count(1)
    if size > MAX_INVOCATIONS:
        raise TooBig(f"invocation {iid} has {size:,} invocations below it, more than "
                     f"{MAX_INVOCATIONS:,} to group child by child; ask about one of its "
                     f"children, or see its progress counts")
    created = _per_child(kv, keys.invocations(wf, rid), iid)
    started = _per_child(kv, keys.marks(wf, rid, STARTED), iid)
    done = _per_child(kv, keys.marks(wf, rid, DONE_MARK), iid)
    failed = _per_child(kv, keys.marks(wf, rid, FAILED_MARK), iid)
    buckets: dict[str, list[str]] = {name: [] for name in BUCKETS}
    for child in sorted(created, key=lambda c: int(c.rsplit(".", 1)[1])):
        buckets[_bucket(created[child], started[child], done[child], failed[child])].append(
            child)
    return {"request_id": rid, "invocation": iid, "children": len(created),
            "buckets": buckets}


def _bucket(created: int, started: int, done: int, failed: int) -> str:
    if failed:
        return "failed"
    if done >= created:
        return "done"
    if not started:
        return "not started"
    percent = 100 * done / created
    return "1-25%" if percent <= 25 else "26-75%" if percent <= 75 else "76-99%"


def _per_child(kv: Store, prefix: str, iid: str) -> Counter:
    """Keys under `prefix` counted by the child of `iid` whose subtree holds them."""
    counts: Counter = Counter()
    start = len(prefix) + len(iid) + 1
    for entry in kv.scan(prefix + iid + ".", keys_only=True):
        first = entry.key[start:].split(".", 1)[0]
        if first != REDUCE_SUFFIX.lstrip("."):    # iid's own reduction is no child
            counts[f"{iid}.{first}"] += 1
    return counts
