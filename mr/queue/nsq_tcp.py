"""Publishing over nsqd's TCP protocol: PUB and MPUB on a kept-alive connection.

A publish is one write and one small read, against an HTTP publish's request line, headers
and their parsing on both sides: less CPU in the publisher and the broker, and a shorter
round trip. The connection asks for no heartbeats (IDENTIFY heartbeat_interval -1), so an
idle one holds no unanswered frame; should one come all the same, it is answered (NOP).

The TCP address of a broker is the one its HTTP API reports (GET /info, `tcp_port`) for the
same host, so MR_NSQD_HTTP_HOSTS stays the one list of brokers to publish to. A broker that
wants AUTH (or reports no TCP port) is published to over HTTP instead (mr.queue.publisher).
Plain sockets: under gevent's monkey-patching they yield to other greenlets like any other.
"""
from __future__ import annotations

import http.client
import json
import socket
import struct

MAGIC = b"  V2"
FRAME_RESPONSE, FRAME_ERROR = 0, 1
HEARTBEAT = b"_heartbeat_"
# errors after which another broker may well take the message; any other error frame is a
# refusal of the message itself (bad topic, too big), which no other broker would take either
TRANSIENT_ERRORS = (b"E_PUB_FAILED", b"E_MPUB_FAILED", b"E_DPUB_FAILED")
_IDENTIFY = json.dumps({"feature_negotiation": True, "heartbeat_interval": -1,
                        "user_agent": "mr-publisher"}).encode()


class ProtocolError(OSError):
    """The broker answered something a producer does not expect; the connection is dropped."""


class Refused(Exception):
    """The broker refused the message itself (an NSQ error frame such as E_BAD_TOPIC)."""


class UseHttp(Exception):
    """This broker cannot take plain TCP publishes from us (it wants AUTH)."""


def tcp_port(http_host: str, timeout: float) -> int | None:
    """The TCP port of the broker whose HTTP API is `http_host` (None if it names none)."""
    name, port = http_host.rsplit(":", 1)
    conn = http.client.HTTPConnection(name, int(port), timeout=timeout)
    try:
        conn.request("GET", "/info")
        reply = conn.getresponse()
        body = reply.read()
    finally:
        conn.close()
    if reply.status != 200:
        return None
    try:
        found = json.loads(body).get("tcp_port")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, int) and found > 0 else None


def _pub(topic: str, bodies: list[bytes]) -> bytes:
    if len(bodies) == 1:
        return b"PUB %s\n%s%s" % (topic.encode(), struct.pack(">I", len(bodies[0])), bodies[0])
    parts = [struct.pack(">I", len(bodies))]
    for body in bodies:
        parts += [struct.pack(">I", len(body)), body]
    payload = b"".join(parts)
    return b"MPUB %s\n%s%s" % (topic.encode(), struct.pack(">I", len(payload)), payload)


class TcpLink:
    """One producer connection to one broker; one publish at a time (its caller's slot)."""

    def __init__(self, host: str, port: int, timeout: float):
        self.address, self.timeout = (host, port), timeout
        self.sock: socket.socket | None = None

    @property
    def fresh(self) -> bool:
        """The next send connects anew (so a failure is no stale socket's)."""
        return self.sock is None

    def send(self, topic: str, bodies: list[bytes]) -> None:
        if self.sock is None:
            self._connect()
        assert self.sock is not None
        self.sock.sendall(_pub(topic, bodies))
        while True:
            kind, data = self._frame()
            if kind == FRAME_RESPONSE and data == HEARTBEAT:
                self.sock.sendall(b"NOP\n")
                continue
            if kind == FRAME_RESPONSE and data == b"OK":
                return
            if kind == FRAME_ERROR and not data.startswith(TRANSIENT_ERRORS):
                raise Refused(data.decode(errors="replace"))
            raise ProtocolError(f"broker answered a publish with frame {kind} "
                                f"{data[:80].decode(errors='replace')}")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _connect(self) -> None:
        sock = socket.create_connection(self.address, timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(MAGIC + b"IDENTIFY\n" + struct.pack(">I", len(_IDENTIFY)) + _IDENTIFY)
            self.sock = sock
            kind, data = self._frame()
        except BaseException:
            self.sock = None
            sock.close()
            raise
        if kind != FRAME_RESPONSE:
            self.close()
            raise ProtocolError(f"IDENTIFY refused: {data[:200].decode(errors='replace')}")
        try:
            features = json.loads(data) if data != b"OK" else {}
        except ValueError:
            features = {}
        if isinstance(features, dict) and features.get("auth_required"):
            self.close()
            raise UseHttp("the broker wants AUTH")

    def _frame(self) -> tuple[int, bytes]:
        head = self._read(8)
        size, kind = struct.unpack(">Ii", head)
        if size < 4:
            raise ProtocolError(f"frame of {size} bytes")
        return kind, self._read(size - 4)

    def _read(self, size: int) -> bytes:
        assert self.sock is not None
        data = bytearray()
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ProtocolError("the broker closed the connection")
            data += chunk
        return bytes(data)
