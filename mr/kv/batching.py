"""Group commit: transactions submitted by many threads at once become one etcd transaction.

etcd fsyncs every proposal, and a transaction of up to 128 operations is one proposal. A
worker's invocations finish within milliseconds of each other, so their completion
transactions are merged while the previous one is in flight: fewer proposals, same effects.

Merging is safe because each caller's compares must all hold for the merged transaction to
apply; if any fails, every caller's transaction is retried alone and gets its own answer.
Transactions that delete, or that write a key another item of the batch writes, are not
merged (etcd refuses duplicate keys in one transaction).

A txn() that finds nothing queued and nothing committing runs at once in its caller's thread
(a lone request's transactions wait for no hand-off); anything that comes while it runs is
queued for the committers, as behind any commit in flight.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from mr.kv.client import KV, MAX_TXN_OPS, TxnResult
from mr.kv.entry import Entry
from mr.kv.watch import Watch


class _Pending:
    """One caller's transaction. `_unset` is held until the result is in: a bare lock is the
    cheapest one-shot latch (a threading.Event builds a Condition per transaction)."""

    __slots__ = ("compare", "success", "failure", "writes", "result", "error", "_unset",
                 "_set")

    def __init__(self, compare: list, success: list, failure: list, writes: set[bytes]):
        self.compare, self.success, self.failure, self.writes = compare, success, failure, writes
        self.result: TxnResult | None = None
        self.error: BaseException | None = None
        self._unset = threading.Lock()
        self._unset.acquire()
        self._set = False

    def set(self) -> None:
        if not self._set:
            self._set = True
            self._unset.release()

    def wait(self) -> TxnResult:
        with self._unset:  # blocks until set() released it; released again for other waiters
            pass
        if self.error is not None:
            raise self.error
        assert self.result is not None  # set() comes after a result or an error
        return self.result


def _written_keys(ops: list) -> set[bytes] | None:
    """Keys the ops put; None if any op deletes (not mergeable)."""
    keys = set()
    for op in ops:
        kind = op.WhichOneof("request")
        if kind == "request_put":
            keys.add(op.request_put.key)
        elif kind != "request_range":
            return None
    return keys


class BatchingKV:
    """A KV whose txn() group-commits; every other call goes straight to the wrapped KV."""

    def __init__(self, kv: KV, committers: int = 2):
        self._kv = kv
        self._pending: list[_Pending] = []
        self._busy = 0  # transactions in flight: a committer's batch, or a caller's own
        self._lock = threading.Condition()
        self.transactions = 0  # etcd transactions sent, for tests and benchmarks
        self.merged = 0        # callers served by them
        for n in range(committers):
            threading.Thread(target=self._commit_loop, name=f"group-commit-{n}",
                             daemon=True).start()

    # --- what is not a transaction goes straight to the wrapped KV (a Store, mr.kv.store)
    def get(self, key: str) -> Entry | None:
        return self._kv.get(key)

    def range(self, prefix: str, limit: int = 0, start: str | None = None,
              keys_only: bool = False, revision: int = 0, descending: bool = False,
              by_mod_revision: bool = False) -> tuple[list[Entry], bool, int]:
        return self._kv.range(prefix, limit, start, keys_only, revision, descending,
                              by_mod_revision)

    def scan(self, prefix: str, page: int = 500, keys_only: bool = False,
             revision: int = 0) -> Iterator[Entry]:
        return self._kv.scan(prefix, page, keys_only, revision)

    def count(self, prefix: str, revision: int = 0) -> int:
        return self._kv.count(prefix, revision)

    def revision(self) -> int:
        return self._kv.revision()

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        return self._kv.put(key, value, lease)

    def delete(self, key: str, prefix: bool = False) -> int:
        return self._kv.delete(key, prefix)

    def lease_grant(self, ttl: int) -> int:
        return self._kv.lease_grant(ttl)

    def lease_keepalive(self, lease_id: int) -> int:
        return self._kv.lease_keepalive(lease_id)

    def lease_revoke(self, lease_id: int) -> None:
        self._kv.lease_revoke(lease_id)

    def watch_prefix(self, prefix: str, start_revision: int) -> Watch:
        return self._kv.watch_prefix(prefix, start_revision)

    # --- transactions ------------------------------------------------------------------

    def txn(self, compare: list, success: list, failure: list | None = None) -> TxnResult:
        with self._lock:
            alone = not self._pending and not self._busy
            if alone:
                self._busy += 1
        if not alone:
            return self.submit(compare, success, failure)()
        try:
            result = self._kv.txn(compare, success, failure)
        finally:
            with self._lock:
                self._busy -= 1
        self.transactions += 1
        self.merged += 1
        return result

    def submit(self, compare: list, success: list,
               failure: list | None = None) -> Callable[[], TxnResult]:
        """Queue a transaction for the next group commit; returns a waiter for its result."""
        writes = _written_keys(success)
        if writes is None or len(success) > MAX_TXN_OPS // 2:
            self.transactions += 1
            self.merged += 1
            result = self._kv.txn(compare, success, failure)
            return lambda: result
        item = _Pending(compare, success, failure or [], writes)
        with self._lock:
            self._pending.append(item)
            self._lock.notify()
        return item.wait


    def _take_batch(self) -> list[_Pending]:
        with self._lock:
            self._lock.wait_for(lambda: self._pending)
            batch: list[_Pending] = []
            rest: list[_Pending] = []
            written: set[bytes] = set()
            compares = ops = 0
            for item in self._pending:
                fits = (compares + len(item.compare) <= MAX_TXN_OPS
                        and ops + len(item.success) <= MAX_TXN_OPS
                        and not (written & item.writes))
                if fits:
                    batch.append(item)
                    written |= item.writes
                    compares += len(item.compare)
                    ops += len(item.success)
                else:
                    rest.append(item)
            self._pending = rest
            self._busy += 1
            return batch

    def _commit_loop(self) -> None:
        while True:
            batch = self._take_batch()
            try:
                self._commit(batch)
            finally:
                with self._lock:
                    self._busy -= 1

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            if len(batch) == 1:
                self._run_alone(batch[0])
                return
            merged = self._kv.txn([c for item in batch for c in item.compare],
                                  [op for item in batch for op in item.success])
            self.transactions += 1
            if not merged.succeeded:
                for item in batch:
                    self._run_alone(item)
                return
            start = 0
            for item in batch:
                item.result = merged.part(start, len(item.success))
                start += len(item.success)
            self.merged += len(batch)
        except BaseException as exc:  # etcd down: every caller sees the error
            for item in batch:
                if not item._set:
                    item.error = exc
        finally:
            for item in batch:
                item.set()

    def _run_alone(self, item: _Pending) -> None:
        try:
            item.result = self._kv.txn(item.compare, item.success, item.failure)
            self.transactions += 1
            self.merged += 1
        except BaseException as exc:
            item.error = exc
        item.set()
