"""Publish through nsqd's HTTP API (/pub, /mpub?binary=true), failing over along a list.

HTTP keeps publishing free of pynsq's Tornado loop, so gevent front-ends and worker threads can
both call it; NSQ's advice is an nsqd local to each publisher, listed first. A process shares a
few kept-alive connections per broker: a connection per thread or greenlet came to hundreds of
sockets on a front-end serving hundreds of clients at once.
"""
from __future__ import annotations

import http.client
import logging
import queue
import struct
import threading
from urllib.parse import quote

log = logging.getLogger(__name__)

POOL_SIZE = 4  # publishes in flight at once per process; a publish is one short round trip


class PublishError(RuntimeError):
    """No broker accepted the message."""


class Publisher:
    """Lends each publish one of `pool_size` slots, a slot holding a connection per broker.

    A publish waits for a free slot, so a process never has more than `pool_size` connections
    to any one broker, whether its callers are threads or (monkey-patched) greenlets.
    """

    def __init__(self, http_hosts: list[str], timeout: float = 5.0, pool_size: int = POOL_SIZE):
        if not http_hosts:
            raise ValueError("no nsqd HTTP address configured (MR_NSQD_HTTP_HOSTS)")
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size}")
        self.hosts = list(http_hosts)
        self.timeout = timeout
        self.pool_size = pool_size
        self._slots: queue.LifoQueue | None = None
        self._create_lock = threading.Lock()

    def publish(self, topic: str, body: bytes) -> None:
        self._post(f"/pub?topic={quote(topic)}", body)

    def publish_many(self, topic: str, bodies: list[bytes]) -> None:
        """One MPUB for many messages (binary framing, so bodies may hold newlines)."""
        if not bodies:
            return
        if len(bodies) == 1:
            return self.publish(topic, bodies[0])
        parts = [struct.pack(">I", len(bodies))]
        for body in bodies:
            parts.append(struct.pack(">I", len(body)))
            parts.append(body)
        self._post(f"/mpub?topic={quote(topic)}&binary=true", b"".join(parts))

    def close(self) -> None:
        """Close the idle slots' connections (lent ones keep theirs); publishing reconnects."""
        if self._slots is None:
            return
        idle = []
        while True:
            try:
                idle.append(self._slots.get_nowait())
            except queue.Empty:
                break
        for slot in idle:
            for conn in slot.values():
                conn.close()
            slot.clear()
            self._slots.put(slot)

    def _pool(self) -> queue.LifoQueue:
        # Made on first use, not in __init__: its locks must be gevent's when the process is
        # monkey-patched, and patching may come after the Publisher is built.
        if self._slots is None:
            with self._create_lock:
                if self._slots is None:
                    slots: queue.LifoQueue = queue.LifoQueue()
                    for _ in range(self.pool_size):
                        slots.put({})
                    self._slots = slots
        return self._slots

    def _post(self, path: str, body: bytes) -> None:
        slots = self._pool()
        slot = slots.get()  # LIFO: the most recently used, connected slot comes first
        try:
            self._post_with(slot, path, body)
        finally:
            slots.put(slot)

    def _post_with(self, slot: dict[str, http.client.HTTPConnection], path: str,
                   body: bytes) -> None:
        errors = []
        for host in self.hosts:
            for _ in range(2):  # a kept-alive socket may have been closed by the peer
                conn = slot.get(host)
                if conn is None:
                    name, port = host.rsplit(":", 1)
                    conn = slot[host] = http.client.HTTPConnection(name, int(port),
                                                                   timeout=self.timeout)
                fresh = conn.sock is None  # this attempt connects anew
                try:
                    reply_status, text = _round_trip(conn, path, body)
                except (OSError, http.client.HTTPException) as exc:
                    slot.pop(host).close()
                    error = f"{host}: {exc.__class__.__name__}: {exc}"
                    if fresh:
                        break  # not a stale socket: the broker is unreachable
                    continue
                except BaseException:
                    slot.pop(host).close()  # interrupted mid-request: its reply is unread
                    raise
                if reply_status == 200:
                    return
                # nsqd refused the message itself (bad topic, too big): another host won't help.
                raise PublishError(f"nsqd {host} refused {path.split('?')[0]}: "
                                   f"{reply_status} {text.decode(errors='replace').strip()}")
            errors.append(error)
            log.warning("publish to %s failed, trying the next broker", errors[-1])
        raise PublishError("no NSQ broker reachable (" + "; ".join(errors) + ")")


def _round_trip(conn: http.client.HTTPConnection, path: str, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", path, body=body)
    reply = conn.getresponse()
    return reply.status, reply.read()
