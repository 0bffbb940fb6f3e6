"""How a run takes an invocation, so that only one run of it counts (DESIGN.md §4).

A first delivery carries the invocation's record and the revision that created it: one
transaction claims it (protocol.claim). Anything else (a duplicate, a redelivery, a
republished or forged message) reads what etcd holds, decides, and claims it with a compare
on the revision it read (protocol.start), while a mapper may already run.

A data-plane invocation (a split's map, a partition's reduce) is claimed lazily: it runs
after a read, and is claimed only if it is still running MR_DATA_CLAIM_AFTER_S later. Its
completion stores its output only if none is stored yet, so two runs of it still count
once; a split then costs etcd a single write, and a long one shows as running.
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
from mr.kv.client import KV
from mr.kv.models import FINISHED_STATES, RUNNING, WAITING, Invocation, Request, decode, encode
from mr.queue.messages import InvocationMessage


def claim_after_s(settings: Settings) -> float:
    """When a data run still going is claimed: before the stall sweep would publish it."""
    return min(settings.data_claim_after_s, settings.stall_s / 2)


@dataclass
class Run:
    """This run took the invocation; `owned()` waits for the claim and says if it held.

    `claim`, for a lazily claimed run: call it if the run is still going after a while."""
    request: Request
    inv: Invocation
    owned: Callable[[], bool]
    claim: Callable[[], None] | None = None


@dataclass
class Skip:
    """Nothing to run: `outcome` is REQUEST_ENDED, ALREADY_DONE, RUNNING_ELSEWHERE or PAUSED."""
    outcome: Outcome
    request: Request | None = None
    inv: Invocation | None = None


HandlerOf = Callable[[str, Invocation], tuple[str | None, str | None]]


class Claimer:
    def __init__(self, kv: KV, worker_id: str, worker_alive: Callable[[str], bool],
                 handler_of: HandlerOf = lambda wf, inv: (None, None)):
        """`handler_of(workflow, inv)`: the (name, version) of the handler it will run,
        written into the running record so that it shows while the invocation runs."""
        self.kv = kv
        self.worker_id = worker_id
        self.worker_alive = worker_alive
        self.handler_of = handler_of
        self.requests = RequestCache()

    def take(self, msg: InvocationMessage, message_id: str) -> Run | Skip:
        run = self._claim_published(msg, message_id) if msg.record is not None else None
        return run or self._read_and_start(msg, message_id)

    def _claim_published(self, msg: InvocationMessage, message_id: str) -> Run | None:
        """One transaction; None when it fails, or is not for this kind of invocation (the
        read path then decides)."""
        try:
            inv = decode(Invocation, msg.record)
            if inv.data_plane:
                return None
            self._running(msg.workflow, inv, message_id)
            running = encode(inv)
        except Exception:  # not a record we wrote (the claim's compare would refuse it too)
            return None
        if inv.id != msg.invocation_id:
            return None
        entry = protocol.claim(self.kv, msg.workflow, msg.request_id, msg.revision, msg.record,
                               inv.id, running)
        request = entry and self._request(msg, entry)
        return Run(request, inv, lambda: True) if request else None

    def _read_and_start(self, msg: InvocationMessage, message_id: str) -> Run | Skip:
        wf, rid = msg.workflow, msg.request_id
        inv_entry, req_entry, live, paused = protocol.read_invocation(self.kv, wf, rid,
                                                                      msg.invocation_id)
        request = req_entry and live and self._request(msg, req_entry)
        if inv_entry is None or not request:
            return Skip(Outcome.REQUEST_ENDED)
        if paused:   # dropped: resuming the request publishes what is left
            return Skip(Outcome.PAUSED)
        inv = decode(Invocation, inv_entry.value)
        if inv.state in FINISHED_STATES or inv.state == WAITING:
            return Skip(Outcome.ALREADY_DONE, request, inv)
        if (inv.state == RUNNING and inv.message_id != message_id and inv.worker
                and self.worker_alive(inv.worker)):
            return Skip(Outcome.RUNNING_ELSEWHERE)
        self._running(wf, inv, message_id)
        if inv.data_plane:
            claim = _LazyClaim(self.kv, wf, rid, inv_entry.mod_revision, inv)
            return Run(request, inv, claim.owned, claim.claim)
        waiter = protocol.start(self.kv, wf, rid, inv_entry.mod_revision, inv)
        return Run(request, inv, waiter)

    def _request(self, msg: InvocationMessage, entry) -> Request | None:
        return self.requests.get(
            entry, lambda: self.kv.get(keys.request(msg.workflow, msg.request_id)))

    def _running(self, wf: str, inv: Invocation, message_id: str) -> None:
        inv.state, inv.worker, inv.message_id = RUNNING, self.worker_id, message_id
        inv.attempts, inv.started = inv.attempts + 1, time.time()
        inv.handler, inv.version = self.handler_of(wf, inv)


class _LazyClaim:
    """A run that etcd hears of only if claim() is called (then as protocol.start would)."""

    def __init__(self, kv: KV, wf: str, rid: str, read_revision: int, inv: Invocation):
        self._start = lambda: protocol.start(kv, wf, rid, read_revision, inv)
        self._waiter: Callable[[], bool] | None = None
        self._lock = threading.Lock()

    def claim(self) -> None:
        with self._lock:
            if self._waiter is None:
                self._waiter = self._start()

    def owned(self) -> bool:
        """Unclaimed, the run may go on: its completion is the test that counts."""
        with self._lock:
            waiter = self._waiter
        return waiter is None or waiter()
