"""Watches: one gRPC stream per watched prefix, made by `KV.watch_prefix`.

A watch from a revision delivers every change after it, in order; if etcd has compacted
that revision away the reader gets WatchCompacted and must re-read the state, then watch
again from the revision of that read.
"""
from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
from pyetcd import etcdrpc

from mr.kv.entry import Entry, entry_of, prefix_end
from mr.kv.errors import EtcdUnavailable
from mr.kv.security import Authenticator


class WatchCompacted(RuntimeError):
    """A watch asked for a revision etcd has already compacted: re-read state, then re-watch."""

    def __init__(self, compact_revision: int):
        super().__init__(f"watch revision compacted (oldest kept: {compact_revision})")
        self.compact_revision = compact_revision


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # "put" | "delete"
    entry: Entry


def _requests(pending: queue.Queue) -> Iterator:
    """What the watch sends etcd, until a None."""
    while (item := pending.get()) is not None:
        yield item


class Watch:
    """One watch stream over a prefix; iterate for (revision, [Event]); cancel() to stop."""

    def __init__(self, stub, prefix: str, start_revision: int, auth: Authenticator):
        raw = prefix.encode()
        self._auth = auth
        self._requests: queue.Queue = queue.Queue()
        self._requests.put(etcdrpc.WatchRequest(create_request=etcdrpc.WatchCreateRequest(
            key=raw, range_end=prefix_end(raw), start_revision=start_revision)))
        # the request generator must not hold the Watch: a cycle through gRPC's call leaves
        # the stream for the garbage collector, which may run it at interpreter exit, when
        # gRPC's frozen daemon threads can hold the lock its clean-up waits for (a hang)
        self._stream = stub.Watch(_requests(self._requests), metadata=auth.stream_metadata())
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[tuple[int, list[Event]]]:
        try:
            for reply in self._stream:
                if reply.compact_revision:
                    raise WatchCompacted(reply.compact_revision)
                if reply.canceled:
                    raise self._auth.watch_refusal(reply.cancel_reason)
                if reply.events:
                    yield reply.header.revision, [
                        Event("delete" if ev.type == ev.DELETE else "put", entry_of(ev.kv))
                        for ev in reply.events]
        except grpc.RpcError as exc:
            if self._closed.is_set():
                return
            self._auth.expired(exc)  # the next watch authenticates again
            raise self._auth.refusal(exc) or EtcdUnavailable(
                f"etcd watch stream broke: {exc.code().name}") from None

    def cancel(self) -> None:
        self._closed.set()
        self._requests.put(None)
        self._stream.cancel()


class Follower:
    """The daemon thread that follows a prefix with watches, and the one way to stop it.

    stop() cancels the open watch, waits for the thread and collects garbage: a watch stream
    sits in a reference cycle inside gRPC, and when the collector first meets it at
    interpreter exit, gRPC's daemon threads are frozen and its clean-up can wait forever on
    a lock one of them holds (a script hung at exit so). Watches are opened under the lock
    stop() takes, so a stop() just before one opens cannot miss it.
    """

    def __init__(self, name: str, follow: Callable[[], None]):
        self.stopped = threading.Event()
        self._watch: Watch | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=follow, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def open(self, watch: Callable[[], Watch]) -> Watch | None:
        """The watch `watch()` opens, or None once stop() was called (the thread should end)."""
        with self._lock:
            if self.stopped.is_set():
                return None
            self._watch = watch()
            return self._watch

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self.stopped.set()
            if self._watch is not None:
                self._watch.cancel()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._watch = None
        gc.collect()   # while every thread runs: see above
