"""What a long-running invocation prints, readable while it runs; a retried attempt's log kept.

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
from mr.kv.client import KV, cmp_present, op_put
from mr.kv.errors import EtcdUnavailable

log = logging.getLogger(__name__)

LIVE_AFTER_S = 2.0
EVERY_S = 2.0


@dataclass
class _Running:
    log: InvocationLog
    live: str             # the request's live key: no write once the request has ended
    since: float
    flushed: int = 0      # InvocationLog.written at the last write


class LiveLogs:
    def __init__(self, kv: KV, every_s: float = EVERY_S, after_s: float = LIVE_AFTER_S):
        self.kv, self.every_s, self.after_s = kv, every_s, after_s
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def follow(self, key: str, live: str, out: InvocationLog) -> None:
        """Write `out` to `key` while it grows, once the invocation has run `after_s`, as
        long as its request's `live` key exists (a late write never outlives its cleanup)."""
        with self._lock:
            self._running[key] = _Running(out, live, time.monotonic())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="live-logs",
                                                daemon=True)
                self._thread.start()

    def keep(self, key: str, live: str, text: str) -> None:
        """Write an attempt's whole log now (it failed and will be retried)."""
        self.kv.txn([cmp_present(live)], [op_put(key, text.encode())])

    def forget(self, key: str) -> None:
        with self._lock:
            self._running.pop(key, None)

    def _run(self) -> None:
        while True:
            time.sleep(self.every_s)
            now = time.monotonic()
            with self._lock:
                due = [(key, r) for key, r in self._running.items()
                       if now - r.since >= self.after_s and r.log.written != r.flushed]
            for key, running in due:
                written = running.log.written
                try:
                    self.kv.txn([cmp_present(running.live)],
                                [op_put(key, running.log.text().encode())])
                    running.flushed = written
                except EtcdUnavailable as exc:   # the next pass tries again
                    log.debug("live log %s: %s", key, exc)
