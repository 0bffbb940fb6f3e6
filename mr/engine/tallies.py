"""A request's tallies (ctx.tally): exact counts of what its handlers saw, kept in etcd.

A run's tallies travel with its outcome. The transaction that commits it (an invocation's
completion, a parent's fan-out) also writes them under keys.tally, once per invocation: a
run that fails, or loses to a duplicate, writes none, and a put repeated for the same
invocation replaces itself. So the request's tallies, the sum over those keys, count each
committed run once (Hadoop's counters count a task's successful attempt; Spark's
accumulators may count a re-run twice). Reading them is a range beside progress's; a done
request keeps their sum in its record, since its keys go with it.
"""
from __future__ import annotations

from collections.abc import Iterable

from mr.kv import keys
from mr.kv.client import Op, op_get, op_put
from mr.kv.codec import pack, unpack
from mr.kv.entry import Entry
from mr.kv.models import DONE, WAITING, Invocation


def _committed(inv: Invocation) -> bool:
    """Whether `inv` has tallies of a run that committed (done, or waiting on the children
    it made)."""
    return bool(inv.tallies) and inv.state in (DONE, WAITING)


def puts(wf: str, rid: str, invocations: Iterable[Invocation]) -> list[Op]:
    """The writes of the tallies of `invocations` whose run committed."""
    return [op_put(keys.tally(wf, rid, inv.id), pack(inv.tallies)) for inv in invocations
            if _committed(inv)]


def reads(wf: str, rid: str, iid: str) -> list[Op]:
    """Two ranges: invocation `iid`'s tallies and its descendants' (ids "<iid>.*")."""
    prefix = keys.tallies(wf, rid)
    return [op_get(prefix + iid), op_get(prefix + iid + ".", prefix=True)]


def total(entries: Iterable[Entry], prefix: str,
          also: Iterable[Invocation] = ()) -> dict[str, int] | None:
    """The sum of the tallies read (`entries`, keys under `prefix`) and of those of `also`
    being committed now (each invocation once); None when nothing was tallied."""
    by_invocation = {entry.key[len(prefix):]: unpack(entry.value) for entry in entries}
    by_invocation.update({inv.id: inv.tallies for inv in also if _committed(inv)})
    sums: dict[str, int] = {}
    for tallies in by_invocation.values():
        for name, n in tallies.items():
            sums[name] = sums.get(name, 0) + n
    return dict(sorted(sums.items())) or None
