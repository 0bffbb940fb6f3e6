"""One etcd watch per front-end process and workflow, shared by every blocking client.

A client registers its request id before the request exists, so the watch (which resumes from
its last revision after any break) cannot miss the request's end.
"""
from __future__ import annotations

import logging
import threading
from functools import partial

from mr.kv import keys
from mr.kv.client import EtcdUnavailable
from mr.kv.models import RUNNING, Request, decode
from mr.kv.store import Store
from mr.kv.watch import Follower, WatchCompacted

log = logging.getLogger(__name__)


class _Ticket:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.request: Request | None = None


class RequestWaiter:
    def __init__(self, kv: Store, workflow: str):
        self.kv = kv
        self.workflow = workflow
        self._tickets: dict[str, _Ticket] = {}
        self._revision = kv.revision()
        self._follower = Follower(f"waiter-{workflow}", self._follow)
        self._follower.start()

    def expect(self, request_id: str) -> _Ticket:
        ticket = self._tickets[request_id] = _Ticket()
        return ticket

    def forget(self, request_id: str | None) -> None:
        if request_id is not None:
            self._tickets.pop(request_id, None)

    def wait(self, request_id: str, timeout: float) -> Request | None:
        """The ended request, or None if it is still running after `timeout` seconds."""
        ticket = self._tickets.get(request_id) or self.expect(request_id)
        try:
            ticket.event.wait(timeout)
            return ticket.request
        finally:
            self.forget(request_id)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop following requests (mr.kv.watch.Follower.stop)."""
        self._follower.stop(timeout)

    def _wake(self, request: Request) -> None:
        ticket = self._tickets.get(request.id)
        if ticket is not None and request.state != RUNNING:
            ticket.request = request
            ticket.event.set()

    def _follow(self) -> None:
        delay = 0.1
        stopped = self._follower.stopped
        while not stopped.is_set():
            try:
                watch = self._follower.open(partial(
                    self.kv.watch_prefix, keys.requests(self.workflow), self._revision + 1))
                if watch is None:
                    return
                for revision, events in watch:
                    for event in events:
                        # decoded only when waited for: every front-end process sees every
                        # request's writes, its creation among them
                        if (event.kind == "put"
                                and keys.request_id_of(event.entry.key) in self._tickets):
                            self._wake(decode(Request, event.entry.value))
                    self._revision, delay = revision, 0.1
            except (WatchCompacted, EtcdUnavailable) as exc:
                if stopped.is_set():
                    return
                log.warning("request watch for %s interrupted (%s); resuming", self.workflow, exc)
                stopped.wait(delay)
                delay = min(delay * 2, 5.0)
                if isinstance(exc, WatchCompacted):
                    self._recover()

    def _recover(self) -> None:
        """Events were compacted away: read the waited-for requests directly."""
        try:
            self._revision = self.kv.revision()
            for request_id in list(self._tickets):
                entry = self.kv.get(keys.request(self.workflow, request_id))
                if entry is not None:
                    self._wake(decode(Request, entry.value))
        except EtcdUnavailable:
            pass
