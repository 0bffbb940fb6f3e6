"""A key's record as read from etcd, and the range that selects a prefix.

Below both the client and its watches: each turns etcd's KeyValue messages into entries.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int


def entry_of(kv) -> Entry:
    """Our Entry for etcd's KeyValue message."""
    return Entry(kv.key.decode(), kv.value, kv.create_revision, kv.mod_revision, kv.version)


def prefix_end(prefix: bytes) -> bytes:
    """The range end that selects every key starting with `prefix`."""
    as_list = bytearray(prefix)
    for i in reversed(range(len(as_list))):
        if as_list[i] < 0xFF:
            as_list[i] += 1
            return bytes(as_list[: i + 1])
    return b"\0"
