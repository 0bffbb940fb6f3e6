"""How a run takes an invocation, so that only one run of it counts (DESIGN.md §4).

A mapper is read, not claimed, before it runs (one round trip, no etcd proposal): a copy of a
message for an invocation that is finished, waiting or running on a live worker is
acknowledged without running. What the run writes then claims it in the same transaction:
- a leaf (a mapper that returns) commits its claim and its outcome together, comparing the
  revision it read (protocol.Unclaimed): of two copies that both ran, one commits and the
  other's transaction changes nothing, so the effect stays exactly once while the handlers'
  code may run twice (as a mapper's already could while its claim committed);
- a mapper that fans out, or fails, claims before that effect (`owned()`);
- one still running after MR_CLAIM_AFTER_S is claimed then, so it shows as running and a
  duplicate skips it; the claim comes before MR_STALL_S would publish it again, and a worker
  that dies before then has its message redelivered (it re-runs from scratch). A copy that
  reaches the process running it unclaimed is skipped there.
A data-plane invocation (a split's map, a partition's reduce) is claimed only past
MR_DATA_CLAIM_AFTER_S; its completion stores its output only if none is stored yet.

A reduction is claimed before it runs, in one transaction when its message carries the
record it names and the revision that created it (protocol.claim); anything else (a
duplicate, a redelivery, a republished or forged message) reads what etcd holds and claims it
with a compare on the revision it read (protocol.start).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mr.config import Settings
from mr.engine import protocol
from mr.engine.outcome import Outcome
from mr.engine.request_cache import RequestCache
from mr.kv import keys
from mr.kv.client import Entry
from mr.kv.models import (
    FINISHED_STATES,
    REDUCE,
    RUNNING,
    WAITING,
    Invocation,
    Request,
    decode,
    encode,
)
from mr.kv.store import Store
from mr.queue.messages import InvocationMessage


def claim_after_s(settings: Settings, data_plane: bool = True) -> float:
    """When a run still going is claimed: before the stall sweep would publish it."""
    after = settings.data_claim_after_s if data_plane else settings.claim_after_s
    return min(after, settings.stall_s / 2)


def _claimed() -> None:
    return None


@dataclass
class Run:
    """This run took the invocation; `owned()` waits for the claim and says if it held.

    `claim`, for a lazily claimed run: call it if the run is still going after a while.
    `finish()`, as the run commits its outcome: the Unclaimed its completion must claim, or
    None when it was claimed (then `owned()` tells if that claim held)."""
    request: Request
    inv: Invocation
    owned: Callable[[], bool]
    claim: Callable[[], None] | None = None
    finish: Callable[[], protocol.Unclaimed | None] = _claimed
    release: Callable[[], None] = _claimed   # call when the run is over, whatever its end


@dataclass
class Skip:
    """Nothing to run: `outcome` is REQUEST_ENDED, ALREADY_DONE, RUNNING_ELSEWHERE or PAUSED.
    ALREADY_DONE brings the `request` and the finished (or waiting) `inv` along."""
    outcome: Outcome
    request: Request | None = None
    inv: Invocation | None = None


HandlerOf = Callable[[str, Invocation], tuple[str | None, str | None]]


class Claimer:
    def __init__(self, kv: Store, worker_id: str, worker_alive: Callable[[str], bool],
                 handler_of: HandlerOf = lambda wf, inv: (None, None)):
        """`handler_of(workflow, inv)`: the (name, version) of the handler it will run,
        written into the running record so that it shows while the invocation runs."""
        self.kv = kv
        self.worker_id = worker_id
        self.worker_alive = worker_alive
        self.handler_of = handler_of
        self.requests = RequestCache()
        # mappers this process runs, by (workflow, request, invocation): their message ids
        self._here: dict[tuple[str, str, str], str] = {}
        self._here_lock = threading.Lock()

    def take(self, msg: InvocationMessage, message_id: str) -> Run | Skip:
        run = (self._claim_published(msg, msg.record, message_id) if msg.record is not None
               else None)
        return run or self._read_and_start(msg, message_id)

    def _claim_published(self, msg: InvocationMessage, record: bytes,
                         message_id: str) -> Run | None:
        """One transaction, with the `record` the message carries; None when it fails, or is
        not for this kind of invocation (the read path then decides)."""
        try:
            inv = decode(Invocation, record)
            if inv.kind != REDUCE:
                return None
            self._running(msg.workflow, inv, message_id)
            running = encode(inv)
        except Exception:  # not a record we wrote (the claim's compare would refuse it too)
            return None
        if inv.id != msg.invocation_id:
            return None
        entry = protocol.claim(self.kv, msg.workflow, msg.request_id, msg.revision, record,
                               inv.id, running)
        request = self._request(msg, entry) if entry is not None else None
        return Run(request, inv, lambda: True) if request is not None else None

    def _read_and_start(self, msg: InvocationMessage, message_id: str) -> Run | Skip:
        wf, rid = msg.workflow, msg.request_id
        # the request's record comes along unless a copy of it is here (its revision tells)
        inv_entry, req_entry, live, paused = protocol.read_invocation(
            self.kv, wf, rid, msg.invocation_id,
            request_value=not self.requests.holds(keys.request(wf, rid)))
        request = self._request(msg, req_entry) if req_entry is not None and live else None
        if inv_entry is None or request is None:
            return Skip(Outcome.REQUEST_ENDED)
        if paused:   # dropped: resuming the request publishes what is left
            return Skip(Outcome.PAUSED)
        inv = decode(Invocation, inv_entry.value)
        if inv.state in FINISHED_STATES or inv.state == WAITING:
            return Skip(Outcome.ALREADY_DONE, request, inv)
        if (inv.state == RUNNING and inv.message_id != message_id and inv.worker
                and self.worker_alive(inv.worker)):
            return Skip(Outcome.RUNNING_ELSEWHERE)
        if inv.kind != REDUCE:
            here = (wf, rid, inv.id)
            with self._here_lock:
                if self._here.setdefault(here, message_id) != message_id:
                    # a copy of its message: etcd may not know yet that this process runs it
                    return Skip(Outcome.RUNNING_ELSEWHERE)
            self._running(wf, inv, message_id)
            claim = _LazyClaim(self.kv, wf, rid, inv_entry.mod_revision, inv,
                               claim_to_own=not inv.data_plane)
            return Run(request, inv, claim.owned, claim.claim, claim.finish,
                       lambda: self._release(here, message_id))
        self._running(wf, inv, message_id)
        waiter = protocol.start(self.kv, wf, rid, inv_entry.mod_revision, inv)
        return Run(request, inv, waiter)

    def _release(self, here: tuple[str, str, str], message_id: str) -> None:
        with self._here_lock:
            if self._here.get(here) == message_id:
                del self._here[here]

    def _request(self, msg: InvocationMessage, entry: Entry) -> Request | None:
        return self.requests.get(
            entry, lambda: self.kv.get(keys.request(msg.workflow, msg.request_id)))

    def _running(self, wf: str, inv: Invocation, message_id: str) -> None:
        inv.state, inv.worker, inv.message_id = RUNNING, self.worker_id, message_id
        inv.attempts, inv.started = inv.attempts + 1, time.time()
        inv.handler, inv.version = self.handler_of(wf, inv)


class _LazyClaim:
    """A run that etcd hears of only if claim() is called (then as protocol.start would), or
    from its completion (finish()).

    `claim_to_own`: owned() claims an unclaimed run (a mapper, before it fans out or fails);
    else an unclaimed run may go on, its completion being the test that counts (data plane).
    """

    def __init__(self, kv: Store, wf: str, rid: str, read_revision: int, inv: Invocation,
                 claim_to_own: bool = False):
        self._start = lambda: protocol.start(kv, wf, rid, read_revision, inv, under_way=True)
        self._unclaimed = protocol.Unclaimed(inv.id, read_revision)
        self._claim_to_own = claim_to_own
        self._waiter: Callable[[], bool] | None = None
        self._finishing = False
        self._lock = threading.Lock()

    def claim(self) -> None:
        with self._lock:
            if self._waiter is None and not self._finishing:
                self._waiter = self._start()

    def owned(self) -> bool:
        if self._claim_to_own:
            self.claim()
        with self._lock:
            waiter = self._waiter
        return waiter is None or waiter()

    def finish(self) -> protocol.Unclaimed | None:
        """Still unclaimed: it stays so (a late claim() does nothing) and its completion
        claims it."""
        with self._lock:
            if self._waiter is None:
                self._finishing = True
                return self._unclaimed
            return None
