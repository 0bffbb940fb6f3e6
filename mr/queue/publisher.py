"""Publish through nsqd's HTTP API (/pub, /mpub?binary=true), failing over along a list.

HTTP keeps publishing free of pynsq's Tornado loop, so gevent front-ends and worker threads can
both call it; NSQ's advice is an nsqd local to each publisher, listed first.
"""
from __future__ import annotations

import http.client
import logging
import struct
import threading
from urllib.parse import quote

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """No broker accepted the message."""


class Publisher:
    def __init__(self, http_hosts: list[str], timeout: float = 5.0):
        if not http_hosts:
            raise ValueError("no nsqd HTTP address configured (MR_NSQD_HTTP_HOSTS)")
        self.hosts = list(http_hosts)
        self.timeout = timeout
        self._local = threading.local()

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

    def _connection(self, host: str) -> http.client.HTTPConnection:
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get(host)
        if conn is None:
            name, port = host.rsplit(":", 1)
            conn = conns[host] = http.client.HTTPConnection(name, int(port), timeout=self.timeout)
        return conn

    def _drop(self, host: str) -> None:
        conn = self._local.conns.pop(host, None)
        if conn is not None:
            conn.close()

    def _post(self, path: str, body: bytes) -> None:
        errors = []
        for host in self.hosts:
            for fresh in (False, True):  # a kept-alive socket may have been closed by the peer
                if fresh:
                    self._drop(host)
                try:
                    conn = self._connection(host)
                    conn.request("POST", path, body=body)
                    reply = conn.getresponse()
                    text = reply.read()
                except (OSError, http.client.HTTPException) as exc:
                    error = f"{host}: {exc.__class__.__name__}: {exc}"
                    continue
                if reply.status == 200:
                    return
                # nsqd refused the message itself (bad topic, too big): another host won't help.
                raise PublishError(f"nsqd {host} refused {path.split('?')[0]}: "
                                   f"{reply.status} {text.decode(errors='replace').strip()}")
            errors.append(error)
            log.warning("publish to %s failed, trying the next broker", errors[-1])
        raise PublishError("no NSQ broker reachable (" + "; ".join(errors) + ")")
