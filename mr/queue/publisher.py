"""Publish to nsqd (PUB, MPUB), failing over along a list of brokers.

Brokers are named by their HTTP addresses (MR_NSQD_HTTP_HOSTS); a publish goes over the
broker's TCP protocol (mr.queue.nsq_tcp, found through GET /info), or over its HTTP API
(/pub, /mpub?binary=true) when TCP is off (MR_NSQD_TLS: TLS is a consumer's matter here) or
the broker wants AUTH. Both are plain blocking sockets, free of pynsq's Tornado loop, so gevent
front-ends and worker threads can both call it; NSQ's advice is an nsqd local to each
publisher, listed first. A process shares a few kept-alive connections per broker: a
connection per thread or greenlet came to hundreds of sockets on a front-end serving hundreds
of clients at once.
"""
from __future__ import annotations

import http.client
import logging
import queue
import struct
import threading
import time
from typing import Protocol
from urllib.parse import quote

from mr.config import Settings
from mr.queue import nsq_tcp

log = logging.getLogger(__name__)

POOL_SIZE = 4  # publishes in flight at once per process; a publish is one short round trip
# A broker that restarts (a supervisor brings it back within a second or so) delays the
# publishes meanwhile rather than failing them: tried again this long before PublishError.
RETRY_S = 2.0
HTTP_FALLBACK_S = 60.0  # a broker whose TCP port failed us is published to over HTTP this long


class PublishError(RuntimeError):
    """No broker accepted the message."""


class _Unreachable(PublishError):
    """No broker could be reached (rather than one refusing the message): worth a retry."""


class _Link(Protocol):
    @property
    def fresh(self) -> bool: ...

    def send(self, topic: str, bodies: list[bytes]) -> None: ...

    def close(self) -> None: ...


class _HttpLink:
    """One kept-alive HTTP connection to one broker's /pub and /mpub."""

    def __init__(self, host: str, timeout: float):
        name, port = host.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(name, int(port), timeout=timeout)

    @property
    def fresh(self) -> bool:
        return self.conn.sock is None

    def send(self, topic: str, bodies: list[bytes]) -> None:
        if len(bodies) == 1:
            path, body = f"/pub?topic={quote(topic)}", bodies[0]
        else:
            parts = [struct.pack(">I", len(bodies))]
            for one in bodies:
                parts += [struct.pack(">I", len(one)), one]
            path, body = f"/mpub?topic={quote(topic)}&binary=true", b"".join(parts)
        self.conn.request("POST", path, body=body)
        reply = self.conn.getresponse()
        text = reply.read()
        if reply.status != 200:
            raise nsq_tcp.Refused(f"{reply.status} {text.decode(errors='replace').strip()}")

    def close(self) -> None:
        self.conn.close()


class Publisher:
    """Lends each publish one of `pool_size` slots, a slot holding a connection per broker.

    A publish waits for a free slot, so a process never has more than `pool_size` connections
    to any one broker, whether its callers are threads or (monkey-patched) greenlets.
    `tcp`: publish over nsqd's TCP protocol where the broker allows it, else over HTTP.
    """

    def __init__(self, http_hosts: list[str], timeout: float = 5.0, pool_size: int = POOL_SIZE,
                 tcp: bool = True, retry_s: float = RETRY_S):
        if not http_hosts:
            raise ValueError("no nsqd HTTP address configured (MR_NSQD_HTTP_HOSTS)")
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size}")
        self.hosts = list(http_hosts)
        self.timeout = timeout
        self.pool_size = pool_size
        self.tcp = tcp
        self.retry_s = retry_s
        # HTTP host -> (its TCP port, None: over HTTP; until when that holds)
        self._routes: dict[str, tuple[int | None, float]] = {}
        self._slots: queue.LifoQueue | None = None
        self._create_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, hosts: list[str] | None = None) -> Publisher:
        """The publisher for MR_NSQD_HTTP_HOSTS (or `hosts`): over TCP unless MR_NSQD_TLS."""
        return cls(hosts or settings.nsqd_http_hosts, tcp=not settings.nsqd_tls)

    def publish(self, topic: str, body: bytes) -> None:
        self._publish(topic, [body])

    def publish_many(self, topic: str, bodies: list[bytes]) -> None:
        """One MPUB for many messages (binary framing, so bodies may hold newlines)."""
        if bodies:
            self._publish(topic, bodies)

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
            for link in slot.values():
                link.close()
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

    def _publish(self, topic: str, bodies: list[bytes]) -> None:
        slots = self._pool()
        deadline = time.monotonic() + self.retry_s
        delay = 0.05
        while True:
            slot = slots.get()  # LIFO: the most recently used, connected slot comes first
            try:
                self._publish_with(slot, topic, bodies)
                return
            except _Unreachable:
                if time.monotonic() + delay > deadline:
                    raise
            finally:
                slots.put(slot)
            time.sleep(delay)   # a message a lost reply makes twice is harmless: claims count
            delay = min(delay * 2, 0.5)

    def _link(self, host: str) -> _Link:
        """A new connection to `host`: over TCP if it takes that (asked once per process)."""
        port, until = self._routes.get(host, (None, 0.0))
        if self.tcp and time.monotonic() >= until:
            port = nsq_tcp.tcp_port(host, self.timeout)  # OSError: the broker is down
            self._routes[host] = (port, float("inf"))
        if port is None:
            return _HttpLink(host, self.timeout)
        return nsq_tcp.TcpLink(host.rsplit(":", 1)[0], port, self.timeout)

    def _publish_with(self, slot: dict[str, _Link], topic: str, bodies: list[bytes]) -> None:
        errors = []
        for host in self.hosts:
            error = self._publish_to(slot, host, topic, bodies)
            if error is None:
                return
            errors.append(error)
            log.warning("publish to %s failed, trying the next broker", error)
        raise _Unreachable("no NSQ broker reachable (" + "; ".join(errors) + ")")

    def _publish_to(self, slot: dict[str, _Link], host: str, topic: str,
                    bodies: list[bytes]) -> str | None:
        """Publish to one broker: None when it took the messages, else why not."""
        error = f"{host}: not tried"
        for _ in range(3):  # a kept-alive socket may have been closed by the peer
            link: _Link | None = None
            try:
                link = slot.get(host) or slot.setdefault(host, self._link(host))
                fresh = link.fresh  # this attempt connects anew
                link.send(topic, bodies)
                return None
            except nsq_tcp.Refused as exc:
                # nsqd refused the message itself (bad topic, too big): another host won't help
                _drop(slot, host)
                raise PublishError(f"nsqd {host} refused {_command(bodies)}: {exc}") from None
            except (OSError, http.client.HTTPException, nsq_tcp.UseHttp) as exc:
                _drop(slot, host)
                error = f"{host}: {exc.__class__.__name__}: {exc}"
                if isinstance(link, nsq_tcp.TcpLink) and (fresh or isinstance(
                        exc, nsq_tcp.UseHttp)):
                    # its TCP port is not for us (AUTH) or unreachable (a firewall, a proxy
                    # in front of the HTTP API): over HTTP for a while, if that works
                    self._routes[host] = (None, time.monotonic() + HTTP_FALLBACK_S)
                    continue
                if link is None or fresh:
                    return error  # not a stale socket: the broker is unreachable
            except BaseException:
                _drop(slot, host)  # interrupted mid-request: its reply is unread
                raise
        return error


def _drop(slot: dict[str, _Link], host: str) -> None:
    link = slot.pop(host, None)
    if link is not None:
        link.close()


def _command(bodies: list[bytes]) -> str:
    return "/pub" if len(bodies) == 1 else "/mpub"
