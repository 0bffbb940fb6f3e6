"""The broker: owns topics, listeners, timers and persistence, and wires them together.

Everything runs on one asyncio event loop, so topic/channel state needs no locks.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import tempfile
import time
from pathlib import Path

from mr.broker import tls
from mr.broker.backlog import Backlog
from mr.broker.channel import Channel
from mr.broker.lookup_peers import LookupPeers
from mr.broker.message import IdGenerator, Message
from mr.broker.options import Options
from mr.broker.protocol import is_ephemeral
from mr.broker.store import DiskQueue, load_metadata, save_metadata
from mr.broker.tcp import ClientConnection
from mr.broker.topic import Topic

log = logging.getLogger("mr.broker")

SCAN_INTERVAL = 0.1  # nsqd's queue scan interval: in-flight timeouts and deferred messages


def split_address(address: str) -> tuple[str, int]:
    """'host:port', ':port' or '[v6]:port' as (host, port); an empty host means all."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"invalid address {address!r}: expected <addr>:<port>")
    return host.strip("[]") or "0.0.0.0", int(port)


class Broker:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.topics: dict[str, Topic] = {}
        self.clients: set[ClientConnection] = set()
        self.start_time = int(time.time())
        self.tcp_port = -1
        self.http_port = -1
        self._ids = IdGenerator(options.node_id)
        self.tls_context = tls.server_context(options)  # None unless --tls-cert/--tls-key
        self._client_seq = 0
        self.persistent = bool(options.data_path)
        self.data_dir = Path(options.data_path or tempfile.mkdtemp(prefix="mr_broker-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._tcp_server: asyncio.AbstractServer | None = None
        self._http_server = None
        self._tasks: list[asyncio.Task] = []
        self.lookup = LookupPeers(self, options.lookupd_tcp_addresses)

    # -- entities ---------------------------------------------------------------------------
    def next_client_id(self) -> int:
        self._client_seq += 1
        return self._client_seq

    def new_message(self, body: bytes) -> Message:
        return Message(self._ids.new_id(), body)

    def _backlog(self, queue_name: str, ephemeral: bool) -> Backlog:
        disk = None
        if not ephemeral:
            opts = self.options
            disk = DiskQueue(self.data_dir, queue_name, opts.max_bytes_per_file, opts.sync_every,
                             opts.max_msg_size + 26)
        return Backlog(queue_name, self.options.mem_queue_size, disk)

    def _new_channel(self, topic: Topic, name: str) -> Channel:
        backlog = self._backlog(f"{topic.name}:{name}", topic.ephemeral or is_ephemeral(name))
        self.lookup.register(topic.name, name)
        return Channel(topic.name, name, backlog, self.options.max_msg_timeout,
                       lambda channel: topic.delete_channel(channel.name))

    def get_topic(self, name: str) -> Topic:
        """The topic, created on first use (name already validated)."""
        topic = self.topics.get(name)
        if topic is None:
            topic = Topic(name, self._backlog(name, is_ephemeral(name)), self._new_channel,
                          lambda t: self.delete_topic(t.name),
                          on_channel_deleted=lambda t, channel: self.lookup.unregister(t.name,
                                                                                       channel))
            self.topics[name] = topic
            log.info("TOPIC(%s): created", name)
            self.lookup.register(name)
        return topic

    def delete_topic(self, name: str) -> bool:
        topic = self.topics.pop(name, None)
        if topic is None:
            return False
        log.info("TOPIC(%s): deleting", name)
        self.lookup.unregister(name)  # as nsqd: the topic, then each of its channels
        for channel in topic.channels:
            self.lookup.unregister(name, channel)
        topic.delete()
        return True

    # -- lifecycle --------------------------------------------------------------------------
    def _restore(self) -> None:
        """Recreate the topics and channels a previous run persisted, with their queues."""
        for entry in load_metadata(self.data_dir):
            topic = self.get_topic(entry["name"])
            topic.paused = entry.get("paused", False)  # before channels: a paused topic holds
            for channel_entry in entry.get("channels", []):
                channel = topic.get_channel(channel_entry["name"])
                channel.paused = channel_entry.get("paused", False)

    def persist_metadata(self) -> None:
        if not self.persistent:
            return
        save_metadata(self.data_dir, [
            {"name": t.name, "paused": t.paused,
             "channels": [{"name": c.name, "paused": c.paused}
                          for c in t.channels.values() if not c.ephemeral]}
            for t in self.topics.values() if not t.ephemeral])

    async def start(self) -> None:
        from mr.broker.http import start_http_server  # tornado import kept out of unit tests

        if self.persistent:
            self._restore()
        loop = asyncio.get_running_loop()
        host, port = split_address(self.options.tcp_address)
        self._tcp_server = await loop.create_server(
            lambda: ClientConnection(self), host, port, reuse_address=True,
            family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.tcp_port = self._tcp_server.sockets[0].getsockname()[1]
        log.info("TCP: listening on %s:%d", host, self.tcp_port)
        self._http_server, self.http_port = start_http_server(self)
        log.info("HTTP: listening on %s", self.options.http_address)
        self._tasks = [loop.create_task(self._every(SCAN_INTERVAL, self._scan)),
                       loop.create_task(self._every(self.options.sync_timeout, self._sync))]
        self.lookup.start()

    async def _every(self, interval: float, action) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                action()
            except Exception:  # a timer must survive one bad pass
                log.exception("periodic %s failed", action.__name__)

    def _scan(self) -> None:
        now = time.monotonic()
        for topic in list(self.topics.values()):
            for channel in list(topic.channels.values()):
                channel.scan(now)

    def _sync(self) -> None:
        for topic in self.topics.values():
            topic.sync()

    async def stop(self) -> None:
        """Stop accepting, persist every queued, in-flight and deferred message, close."""
        log.info("NSQ: closing")
        await self.lookup.stop()
        for task in self._tasks:
            task.cancel()
        if self._tcp_server is not None:
            self._tcp_server.close()
        if self._http_server is not None:
            self._http_server.stop()
        self.persist_metadata()
        for topic in self.topics.values():
            topic.close()
        for client in list(self.clients):
            client.close()
        if self._tcp_server is not None:
            await self._tcp_server.wait_closed()
        if not self.persistent:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        log.info("NSQ: bye")
