"""What the engine needs of etcd, declared: `KV` (mr.kv.client) has it, and so has
`BatchingKV` (mr.kv.batching), which group-commits transactions and hands every other call
to the KV it wraps. Code that only reads, writes and watches takes a `Store`, so either fits.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from mr.kv.client import Compare, Op, TxnResult
from mr.kv.entry import Entry
from mr.kv.watch import Watch


class Store(Protocol):
    def get(self, key: str) -> Entry | None: ...

    def range(self, prefix: str, limit: int = 0, start: str | None = None,
              keys_only: bool = False, revision: int = 0, descending: bool = False,
              by_mod_revision: bool = False) -> tuple[list[Entry], bool, int]: ...

    def scan(self, prefix: str, page: int = 500, keys_only: bool = False,
             revision: int = 0) -> Iterator[Entry]: ...

    def count(self, prefix: str, revision: int = 0) -> int: ...

    def revision(self) -> int: ...

    def put(self, key: str, value: bytes, lease: int = 0) -> int: ...

    def delete(self, key: str, prefix: bool = False) -> int: ...

    def txn(self, compare: list[Compare], success: list[Op],
            failure: list[Op] | None = None) -> TxnResult: ...

    def submit(self, compare: list[Compare], success: list[Op],
               failure: list[Op] | None = None) -> Callable[[], TxnResult]: ...

    def lease_grant(self, ttl: int) -> int: ...

    def lease_keepalive(self, lease_id: int) -> int: ...

    def lease_revoke(self, lease_id: int) -> None: ...

    def watch_prefix(self, prefix: str, start_revision: int) -> Watch: ...
