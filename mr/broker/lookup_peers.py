"""Registration with nsqlookupd (real, or mr_lookupd), as nsqd does it.

One connection per --lookupd-tcp-address: after the "  V1" magic the broker IDENTIFYs
(broadcast address, ports, version, hostname), REGISTERs every topic and channel it holds,
then forwards each creation (REGISTER) and deletion (UNREGISTER) and PINGs every 15 s.
lookupd drops a node's registrations when its connection closes, so a broker that loses the
connection simply reconnects and registers everything again; notifications made while it is
disconnected are not needed and are dropped. Unlike nsqd, which notices a lost lookupd at its
next ping, the broker notices at once (the socket closes) and reconnects with a backoff.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import socket
import struct
import time
from typing import cast

from mr.broker.core import BrokerCore
from mr.broker.options import VERSION

log = logging.getLogger("mr.broker")

MAGIC_V1 = b"  V1"
PING_INTERVAL = 15.0       # nsqd's lookup heartbeat
CONNECT_TIMEOUT = 1.0      # nsqd's dial timeout
REPLY_TIMEOUT = 5.0
RECONNECT_DELAYS = (0.25, 15.0)  # first retry soon after a loss; then doubling up to a ping
_LENGTH = struct.Struct(">i")
_MAX_REPLY = 1024 * 1024


def command(name: str, *params: str, body: bytes | None = None) -> bytes:
    """A protocol V1 command line (and optional length-prefixed body), as go-nsq writes it."""
    line = " ".join((name, *(p for p in params if p))).encode() + b"\n"
    return line if body is None else line + _LENGTH.pack(len(body)) + body


class _Connection(asyncio.Protocol):
    """Replies are length-prefixed and come in request order: each resolves the oldest wait."""

    transport: asyncio.Transport  # create_connection() hands it over before returning

    def __init__(self) -> None:
        self.lost = asyncio.get_running_loop().create_future()
        self._waiting: collections.deque[asyncio.Future] = collections.deque()
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream's transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 4:
            size = _LENGTH.unpack_from(self._buffer)[0]
            if not 0 <= size <= _MAX_REPLY or not self._waiting:
                self.transport.close()  # a reply nobody asked for, or nonsense
                return
            if len(self._buffer) < 4 + size:
                return
            reply = bytes(self._buffer[4:4 + size])
            del self._buffer[:4 + size]
            future = self._waiting.popleft()
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in self._waiting:
            if not future.done():
                future.set_exception(ConnectionError("lookupd closed the connection"))
        self._waiting.clear()
        if not self.lost.done():
            self.lost.set_result(None)

    async def call(self, data: bytes) -> bytes:
        if self.lost.done():
            raise ConnectionError("lookupd closed the connection")
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self.transport.write(data)
        return await asyncio.wait_for(future, REPLY_TIMEOUT)


class LookupPeer:
    """One lookupd: connect, identify, register everything, then forward and ping."""

    def __init__(self, address: str) -> None:
        self.broker: BrokerCore | None = None  # given at start
        self.address = address
        self.info: dict = {}            # lookupd's IDENTIFY reply
        self.connected = False
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._conn: _Connection | None = None
        self._task: asyncio.Task | None = None

    def __str__(self) -> str:
        return self.address

    def start(self, broker: BrokerCore) -> None:
        log.info("LOOKUP(%s): adding peer", self.address)
        self.broker = broker
        self._task = asyncio.get_running_loop().create_task(self._run(broker))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._disconnect()

    def notify(self, data: bytes) -> None:
        if self.connected:
            self._queue.put_nowait(data)

    # -- connection life ------------------------------------------------------------------
    async def _run(self, broker: BrokerCore) -> None:
        delay = RECONNECT_DELAYS[0]
        while True:
            try:
                await self._session(broker)
            except (TimeoutError, OSError, ValueError) as err:
                log.error("LOOKUPD(%s): %s", self, err or err.__class__.__name__)
            except Exception:  # a bug must not end registration for good
                log.exception("LOOKUPD(%s): unexpected error", self)
            if self.connected:  # a working session ended: retry soon
                delay = RECONNECT_DELAYS[0]
            self._disconnect()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_DELAYS[1])

    def _disconnect(self) -> None:
        self.connected = False
        self._queue = asyncio.Queue()
        if self._conn is not None:
            self._conn.transport.close()
        self._conn = None

    async def _session(self, broker: BrokerCore) -> None:
        host, _, port = self.address.rpartition(":")
        log.info("LOOKUP connecting to %s", self.address)
        _, conn = await asyncio.wait_for(asyncio.get_running_loop().create_connection(
            _Connection, host.strip("[]") or "127.0.0.1", int(port)), CONNECT_TIMEOUT)
        self._conn = conn
        conn.transport.write(MAGIC_V1)
        reply = await conn.call(command("IDENTIFY", body=json.dumps(identity(broker))
                                        .encode()))
        if reply.startswith(b"E_"):
            raise ValueError(f"lookupd refused IDENTIFY: {reply.decode(errors='replace')}")
        self.info = json.loads(reply)
        log.info("LOOKUPD(%s): peer info %s", self, self.info)
        # Taken and switched on in one step: later changes queue behind this snapshot.
        commands = [command("REGISTER", t, c) for t, c in registrations(broker)]
        self.connected = True
        for data in commands:
            await self._send(conn, data)
        next_ping = time.monotonic() + PING_INTERVAL
        while True:
            get = asyncio.ensure_future(self._queue.get())
            await asyncio.wait({get, conn.lost}, timeout=max(next_ping - time.monotonic(), 0),
                               return_when=asyncio.FIRST_COMPLETED)
            if not get.done():
                get.cancel()
            if conn.lost.done():
                raise ConnectionError("lookupd closed the connection")
            if get.done() and not get.cancelled():
                await self._send(conn, get.result())
            else:
                log.debug("LOOKUPD(%s): sending heartbeat", self)
                await self._send(conn, command("PING"))
                next_ping = time.monotonic() + PING_INTERVAL

    async def _send(self, conn: _Connection, data: bytes) -> None:
        line = data.split(b"\n", 1)[0].decode(errors="replace")
        if not line.startswith("PING"):
            log.info("LOOKUPD(%s): %s", self, line)
        reply = await conn.call(data)
        if reply != b"OK":
            log.error("LOOKUPD(%s): %s - %s", self, line, reply.decode(errors="replace"))


def identity(broker: BrokerCore) -> dict:
    """What nsqd tells lookupd about itself; the ports are the broadcast ones."""
    opts = broker.options
    return {"version": VERSION, "tcp_port": opts.broadcast_tcp_port or broker.tcp_port,
            "http_port": opts.broadcast_http_port or broker.http_port,
            "hostname": socket.gethostname(), "broadcast_address": opts.broadcast_address,
            "topology_zone": "", "topology_region": ""}


def registrations(broker: BrokerCore) -> list[tuple[str, str]]:
    """(topic, channel) per channel, or (topic, "") for a topic without channels."""
    return [(topic.name, channel) for topic in broker.topics.values()
            for channel in (list(topic.channels) or [""])]


class LookupPeers:
    """Every configured lookupd; the broker's core tells it about topics and channels."""

    def __init__(self, addresses: list[str]) -> None:
        self.peers = [LookupPeer(a) for a in dict.fromkeys(addresses)]

    def start(self, broker: BrokerCore) -> None:
        """Connect to each lookupd; each session registers what `broker` then holds."""
        for peer in self.peers:
            peer.start(broker)

    async def stop(self) -> None:
        log.info("LOOKUP: closing")
        await asyncio.gather(*(peer.stop() for peer in self.peers))

    def register(self, topic: str, channel: str = "") -> None:
        self._notify(command("REGISTER", topic, channel))

    def unregister(self, topic: str, channel: str = "") -> None:
        self._notify(command("UNREGISTER", topic, channel))

    def _notify(self, data: bytes) -> None:
        for peer in self.peers:
            peer.notify(data)
