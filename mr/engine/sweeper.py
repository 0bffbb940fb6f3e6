"""The sweeper: what no message will do by itself, found from etcd (DESIGN.md §4.3, §4.6).

- requests past their deadline fail with reason "timeout" (a non-blocking request has no
  front-end waiting to do it), and the sweeper that failed one notifies request_failed;
- requests that made no progress for MR_STALL_S get their unfinished invocations published
  again, unless a live worker is running them (a message lost by a broker, a publish that
  failed after its etcd write); duplicates are harmless (the start claim);
- when a broker comes back as a new process (mr.queue.restarts), every running request's
  unfinished invocations are published again at once: its in-memory messages are gone;
- ended requests past their retention are removed, and trace documents past theirs.

Every worker runs one; an etcd key under a lease elects the one that acts, so a dead
sweeper is replaced within the lease's TTL.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from mr import fs
from mr.config import Settings
from mr.data.files import delete_request_files, result_dir_path
from mr.engine import control, events, protocol, submit
from mr.fs import traces
from mr.handlers.library import Library
from mr.kv import entities, keys
from mr.kv.client import (
    MAX_TXN_OPS,
    EtcdUnavailable,
    cmp_absent,
    op_delete,
    op_last_written,
    op_put,
)
from mr.kv.models import RUNNING, Request, decode
from mr.kv.store import Store
from mr.notify import Notifier
from mr.queue.publisher import Publisher
from mr.queue.restarts import BrokerRestarts

log = logging.getLogger(__name__)

LEASE_TTL_S = 10
BATCH = 500


class Sweeper:
    def __init__(self, kv: Store, publisher: Publisher, libraries: dict[str, Library],
                 worker_id: str, settings: Settings, worker_alive: Callable[[str], bool],
                 notifier: Notifier | None = None):
        self.kv = kv
        self.publisher = publisher
        self.libraries = libraries
        self.worker_id = worker_id
        self.settings = settings
        self.worker_alive = worker_alive
        self.notifier = notifier or Notifier.from_settings(settings)
        self._lease = 0
        self._stopped = threading.Event()
        # (workflow, request id) -> (a revision it wrote nothing after, since when)
        self._seen: dict[tuple[str, str], tuple[int, float]] = {}
        # workflow -> (time, etcd revision) of its recent passes, oldest first
        self._passes: dict[str, list[tuple[float, int]]] = {}
        self.brokers = BrokerRestarts(settings.nsqd_http_hosts, settings.nsqlookupd_hosts)
        self._restarts: dict[str, tuple[float, list[str]]] = {}   # wf -> (seen, brokers)

    def start(self) -> Sweeper:
        self.brokers.check()   # the brokers as they are now: a restart from here on is noticed
        threading.Thread(target=self._run, name="sweeper", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._lease:
            try:
                self.kv.lease_revoke(self._lease)
            except Exception as exc:  # leaving anyway: the lease expires on its own
                log.debug("sweeper lease revoke failed: %s", exc)

    def _run(self) -> None:
        while not self._stopped.wait(self.settings.sweep_interval_s):
            try:
                self._keep_lease()
                self._note_restarts()
                for wf in self.libraries:
                    if self._lead(wf):
                        self._after_restarts(wf)
                        self.sweep(wf)
            except EtcdUnavailable as exc:
                log.warning("sweeper: %s", exc)
            except Exception:  # a bug must not stop the sweeping for good
                log.exception("sweeper pass failed")

    def _keep_lease(self) -> None:
        if not self._lease or self.kv.lease_keepalive(self._lease) <= 0:
            self._lease = self.kv.lease_grant(LEASE_TTL_S)

    def _lead(self, wf: str) -> bool:
        """Whether this worker sweeps `wf` now (takes the key if nobody holds it). A read
        first: a txn with a put is an etcd proposal even when its compare fails, and an idle
        cluster's passes would otherwise write every few seconds."""
        key = keys.sweeper(wf)
        held = self.kv.get(key)
        if held is None:
            self.kv.txn([cmp_absent(key)],
                        [op_put(key, self.worker_id.encode(), lease=self._lease)])
            held = self.kv.get(key)
        return held is not None and held.value.decode() == self.worker_id

    def sweep(self, wf: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._timeouts(wf, now)
        self._expired(wf, now)
        self._expired_traces(wf, now)
        self._purges(wf, now)
        self._stalled(wf, now)

    # --- deadlines -----------------------------------------------------------------------
    def _due(self, prefix: str, now: float) -> list[str]:
        entries, _, _ = self.kv.range(prefix, limit=BATCH, keys_only=True)
        until = keys.timeline_until(prefix, now)
        return [e.key for e in entries if e.key < until]

    def _timeouts(self, wf: str, now: float) -> None:
        for key in self._due(keys.deadlines(wf), now):
            rid = keys.request_id_of(key)
            entry = self.kv.get(keys.request(wf, rid))
            request = decode(Request, entry.value) if entry else None
            if request is not None and request.state == RUNNING and request.deadline:
                if request.deadline > now:
                    continue  # due within the second: next pass
                limit = request.deadline - request.created
                if submit.fail(self.kv, request, "timeout",
                               f"request timed out after {limit:g}s"):
                    log.info("request %s/%s timed out", wf, rid)
                    events.request_ended(self.notifier, request)
                    continue
            self.kv.delete(key)  # it ended some other way; the mark is stale

    # --- retention -----------------------------------------------------------------------
    def _expired(self, wf: str, now: float) -> None:
        due = self._due(keys.expiries(wf), now)
        removed, _retried = entities.cleanup_requests(self.kv, wf,
                                                      [keys.request_id_of(k) for k in due])
        wfs = fs.workflow_fs(self.settings, wf)
        for rid in removed:
            delete_request_files(wfs, rid, results=True,
                                 outside=result_dir_path(self.settings.result_dir, wf, rid))
        # every due key goes: removed with its request, or its request was retried since
        # (it gets a new expiry when it ends again)
        for start in range(0, len(due), MAX_TXN_OPS):
            self.kv.txn([], [op_delete(k) for k in due[start:start + MAX_TXN_OPS]])
        if removed:
            log.info("%d request(s) of %s removed (retention)", len(removed), wf)

    def _expired_traces(self, wf: str, now: float) -> None:
        """Trace documents past MR_TRACE_RETENTION_S: one listing of their dated buckets."""
        removed = traces.expire(fs.workflow_fs(self.settings, wf), now,
                                  self.settings.trace_retention_s)
        if removed:
            log.info("%d bucket(s) of trace documents of %s removed (retention)", removed, wf)

    def _purges(self, wf: str, now: float) -> None:
        """Big done requests whose worker died while deleting their keys (end_request)."""
        for key in self._due(keys.purges(wf), now):
            rid = keys.request_id_of(key)
            if not protocol.request_live(self.kv, wf, rid):
                removed = entities.delete_request_data(self.kv, wf, rid)
                log.info("request %s/%s: %d key(s) left by its worker removed", wf, rid,
                         removed)
            self.kv.delete(key)

    # --- stalled requests ----------------------------------------------------------------
    def _stalled(self, wf: str, now: float) -> None:
        """One keys-only scan of the running index; the newest write of a request is read
        only once it has shown no progress for MR_STALL_S, for many requests per read-only
        txn (no etcd proposal), instead of one read per running request every pass."""
        revision = self.kv.revision()
        passes = self._passes.setdefault(wf, [])
        passes.append((now, revision))
        seen_now, due = set(), []
        for entry in self.kv.scan(keys.by_state(wf, RUNNING), keys_only=True):
            rid = keys.request_id_of_state_entry(entry.key)
            seen_now.add((wf, rid))
            last = self._seen.get((wf, rid))
            if last is None:
                self._seen[(wf, rid)] = (revision, now)
            elif now - last[1] >= self.settings.stall_s:
                due.append(rid)
        for rid, newest in zip(due, self._newest_revisions(wf, due)):
            bound, since = self._seen[(wf, rid)]
            if newest > bound:  # progress: since the first pass that could have seen it
                since = next((t for t, r in passes if r >= newest), now)
                self._seen[(wf, rid)] = (newest, since)
            if now - since >= self.settings.stall_s and not self.kv.count(keys.paused(wf, rid)):
                log.warning("request %s/%s made no progress for %.0fs; publishing its "
                            "unfinished invocations again", wf, rid, now - since)
                self._republish(wf, rid)
                self._seen[(wf, rid)] = (max(newest, bound), now)
        for gone in [k for k in self._seen if k[0] == wf and k not in seen_now]:
            del self._seen[gone]
        oldest = min((v[1] for k, v in self._seen.items() if k[0] == wf), default=now)
        passes[:] = [p for p in passes if p[0] >= oldest]

    def _note_restarts(self) -> None:
        """Every workflow owes a republish after a broker restart, kept until a pass that
        leads it (the leader may be a dead worker whose lease has not yet expired), but not
        past MR_STALL_S, when the stall sweep publishes again anyway."""
        restarted = self.brokers.check()
        now = time.monotonic()
        if restarted:
            for wf in self.libraries:
                self._restarts[wf] = (now, restarted)
        for wf, (seen, _) in list(self._restarts.items()):
            if now - seen > self.settings.stall_s:
                del self._restarts[wf]

    def _after_restarts(self, wf: str) -> None:
        if wf in self._restarts:
            _, restarted = self._restarts.pop(wf)
            self.republish_running(wf, f"broker {', '.join(restarted)} restarted")

    def republish_running(self, wf: str, why: str) -> None:
        """Publish every running request's unfinished invocations again (`why`: for the log)."""
        rids = [keys.request_id_of_state_entry(entry.key)
                for entry in self.kv.scan(keys.by_state(wf, RUNNING), keys_only=True)]
        published = sum(self._republish(wf, rid) for rid in rids)
        log.warning("%s: %d unfinished invocation(s) of %d running request(s) of %s published "
                    "again", why, published, len(rids), wf)

    def _newest_revisions(self, wf: str, rids: list[str]) -> list[int]:
        """The revision of each request's most recently written key (its last progress)."""
        newest = []
        for start in range(0, len(rids), MAX_TXN_OPS):
            chunk = rids[start:start + MAX_TXN_OPS]
            result = self.kv.txn([], [op_last_written(keys.request_data(wf, rid))
                                      for rid in chunk])
            for index in range(len(chunk)):
                entry = result.entry(index)
                newest.append(entry.mod_revision if entry else 0)
        return newest

    def _republish(self, wf: str, rid: str) -> int:
        return control.republish_unfinished(self.kv, self.publisher, self.libraries[wf], rid,
                                            self.worker_alive)
