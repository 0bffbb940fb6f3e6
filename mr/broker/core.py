"""The broker's core: topics and their channels, message ids and what persists across runs.

It knows nothing of the protocols that serve it. The TCP and HTTP sides and the lookupd peers
build on it, and `mr.broker.server` wires them together; where the core must tell the layer
above of something (a topic or channel appearing or going), it calls the `Registrar` it was
given. Everything runs on one asyncio event loop, so topic and channel state needs no locks.
"""
from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Protocol

from mr.broker.backlog import Backlog
from mr.broker.channel import Channel, Consumer
from mr.broker.message import IdGenerator, Message
from mr.broker.options import Options
from mr.broker.protocol import is_ephemeral
from mr.broker.store import DiskQueue, load_metadata, save_metadata
from mr.broker.topic import Topic

log = logging.getLogger("mr.broker")


class Registrar(Protocol):
    """Hears of each topic and channel created or deleted (the lookupd peers, in nsqd)."""

    def register(self, topic: str, channel: str = "") -> None: ...

    def unregister(self, topic: str, channel: str = "") -> None: ...


class BrokerCore:
    """Topics by name, the connected clients, and the ports the front sides listen on."""

    def __init__(self, options: Options, lookup: Registrar) -> None:
        self.options = options
        self.lookup = lookup
        self.topics: dict[str, Topic] = {}
        self.clients: set[Consumer] = set()  # every TCP connection, producers too
        self.start_time = int(time.time())
        self.tcp_port = -1
        self.http_port = -1
        self._ids = IdGenerator(options.node_id)
        self._client_seq = 0
        self.persistent = bool(options.data_path)
        self.data_dir = Path(options.data_path or tempfile.mkdtemp(prefix="mr_broker-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)

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

    # -- persistence ------------------------------------------------------------------------
    def restore(self) -> None:
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

    # -- timers -----------------------------------------------------------------------------
    def scan(self) -> None:
        """Requeue timed-out in-flight messages and release due deferred ones, everywhere."""
        now = time.monotonic()
        for topic in list(self.topics.values()):
            for channel in list(topic.channels.values()):
                channel.scan(now)

    def sync(self) -> None:
        for topic in self.topics.values():
            topic.sync()
