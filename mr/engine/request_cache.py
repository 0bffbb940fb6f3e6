"""Request records decoded once per revision, for every invocation of the request to share.

A request's record holds its POSTed arguments, which can be large (a word count's whole
corpus), and every invocation needs the rest of it. Workers read only the record's revision
(a keys-only read) and decode the value when that revision is new to them. The record
changes only when the request ends or is retried, so stale copies are never used.
"""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable

from mr.kv.client import Entry
from mr.kv.models import Request, decode

MAX_ENTRIES = 256
MAX_BYTES = 64 * 1024 * 1024


class RequestCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[int, int, Request]] = OrderedDict()
        self._bytes = 0

    def holds(self, key: str) -> bool:
        """Whether some revision of request record `key` is here (read keys-only, then)."""
        return key in self._items

    def get(self, entry: Entry, fetch: Callable[[], Entry | None]) -> Request | None:
        """The request `entry` names, at its revision; `entry` may be keys-only, then `fetch`
        reads the whole record if this revision is not here. Each caller gets its own copy
        (the runner sets a request's final fields on it)."""
        with self._lock:
            found = self._items.get(entry.key)
            if found is not None and found[0] == entry.mod_revision:
                self._items.move_to_end(entry.key)
                return copy.copy(found[2])
        if not entry.value:
            fetched = fetch()
            if fetched is None:
                return None
            entry = fetched
        request = decode(Request, entry.value)
        self._store(entry.key, entry.mod_revision, len(entry.value), request)
        return copy.copy(request)

    def _store(self, key: str, revision: int, size: int, request: Request) -> None:
        if size > self.max_bytes // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (revision, size, request)
            self._bytes += size
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped, _) = self._items.popitem(last=False)
                self._bytes -= dropped
