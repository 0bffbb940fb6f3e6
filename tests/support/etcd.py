"""A real, throwaway etcd server on free loopback ports (never 2379/2380)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mr import cluster


def start_etcd(tmp_path: Path) -> cluster.Service:
    """etcd with its data under tmp_path; `.address` is its client host:port."""
    return cluster.etcd(tmp_path / "etcd-data", tmp_path / "etcd.log").start()


@contextmanager
def restartable_etcd(tmp_path: Path) -> Iterator[cluster.Service]:
    """An etcd of the tests that use it alone, so that they may stop and restart it (no other
    test sees the outage); stopped after."""
    server = start_etcd(tmp_path)
    try:
        yield server
    finally:
        server.stop()
