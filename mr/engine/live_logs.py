"""What a long-running invocation prints and its status message (ctx.status), readable while
it runs; a retried attempt's log kept.

An invocation's record gets its log when it ends. One that runs longer than LIVE_AFTER_S has
its log so far written to its attempt's log key (mr.kv.keys.attempt_log) every EVERY_S while
the log grows: at most one bounded write (MAX_LOG_BYTES) per EVERY_S per running invocation,
and nothing at all for the short invocations of a fan-out. A chatty handler cannot flood
etcd: how often it prints changes nothing.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from mr.engine.context import InvocationLog
from mr.kv import keys
from mr.kv.client import cmp_present, op_put
from mr.kv.errors import EtcdUnavailable
from mr.kv.store import Store

log = logging.getLogger(__name__)

LIVE_AFTER_S = 2.0
EVERY_S = 2.0


@dataclass
class _Running:
    log: InvocationLog
    log_key: str
    status_key: str
    live: str             # the request's live key: no write once the request has ended
    record: str           # the invocation's record key: gone once its request is cleaned up
    since: float
    flushed: int = 0      # InvocationLog.written at the last write
    status: str | None = None   # the status message last written


class LiveLogs:
    def __init__(self, kv: Store, every_s: float = EVERY_S, after_s: float = LIVE_AFTER_S):
        self.kv, self.every_s, self.after_s = kv, every_s, after_s
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def follow(self, wf: str, rid: str, iid: str, attempt: int, out: InvocationLog) -> str:
        """Write `out` to its attempt's log key while it grows, once the invocation has run
        `after_s`, and its status message when it changes, while the request runs (a late
        write never outlives its cleanup). Returns the attempt's log key."""
        key = keys.attempt_log(wf, rid, iid, attempt)
        running = _Running(out, key, keys.status(wf, rid, iid), keys.live(wf, rid),
                           keys.invocation(wf, rid, iid), time.monotonic())
        with self._lock:
            self._running[key] = running
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="live-logs",
                                                daemon=True)
                self._thread.start()
        return key

    def keep(self, key: str, text: str) -> None:
        """Write an attempt's whole log now (it failed and will be retried)."""
        with self._lock:
            running = self._running.get(key)
        if running is not None:
            self._write(running.live, [op_put(key, text.encode())])

    def forget(self, key: str) -> None:
        """The invocation ended: its last status message is written if it is new, also when
        its request has just ended with it (then kept as long as the invocation's record)."""
        with self._lock:
            running = self._running.pop(key, None)
        if running is None:
            return
        status = running.log.status   # None until the handler's first ctx.status
        if status is not None and status != running.status:
            self._write(running.record, [op_put(running.status_key, status.encode())])

    def _run(self) -> None:
        while True:
            time.sleep(self.every_s)
            now = time.monotonic()
            with self._lock:
                running = list(self._running.values())
            for r in running:
                ops = []
                if now - r.since >= self.after_s and r.log.written != r.flushed:
                    r.flushed = r.log.written
                    ops.append(op_put(r.log_key, r.log.text().encode()))
                status = r.log.status
                if status is not None and status != r.status:
                    r.status = status
                    ops.append(op_put(r.status_key, status.encode()))
                if ops:
                    self._write(r.live, ops)

    def _write(self, only_if: str, ops: list) -> None:
        """`ops` in one transaction, if key `only_if` exists."""
        try:
            self.kv.txn([cmp_present(only_if)], ops)
        except EtcdUnavailable as exc:   # a later change writes it again
            log.debug("live log: %s", exc)
