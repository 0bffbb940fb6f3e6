"""A channel: its own copy of a topic's messages, shared by the consumers subscribed to it.

Delivery is push-based and single-threaded: whenever something changes (a message
arrives, a consumer raises RDY or finishes a message, a timer fires) `pump` hands queued
messages to consumers whose RDY count exceeds their in-flight count, round robin.

In-flight messages live in their consumer's `in_flight` dict, in delivery order. A
consumer's timeout is fixed after IDENTIFY, so that order is deadline order and the
timeout scan only looks at the front. (A TOUCH capped by --max-msg-timeout can sit
behind later deadlines; it then times out with them, at most one msg-timeout late.)
"""
from __future__ import annotations

import heapq
import itertools
import logging
import random
import time
from collections.abc import Callable
from typing import Protocol

from mr.broker.backlog import Backlog
from mr.broker.message import Message
from mr.broker.protocol import is_ephemeral

log = logging.getLogger("mr.broker")
_MAX_ATTEMPTS = 0xFFFF


class Consumer(Protocol):
    """What a channel needs of a subscribed client. The TCP side's connections provide it, so
    the channel can hand them messages without knowing the protocol that sends them."""

    rdy: int
    in_flight: dict[bytes, Message]  # in delivery order, so in deadline order
    sample_rate: int
    msg_timeout: float

    @property
    def subscribed(self) -> bool: ...

    def send_message(self, message: Message) -> None: ...

    def close(self) -> None: ...


class Channel:
    def __init__(self, topic_name: str, name: str, backlog: Backlog, max_msg_timeout: float,
                 on_last_client_left: Callable[[Channel], object]) -> None:
        self.topic_name = topic_name
        self.name = name
        self.ephemeral = is_ephemeral(name)
        self.backlog = backlog
        self.clients: list[Consumer] = []
        self.paused = False
        self.deleted = False
        self.message_count = 0
        self.requeue_count = 0
        self.timeout_count = 0
        self._max_msg_timeout = max_msg_timeout
        self._on_last_client_left = on_last_client_left
        self._deferred: list[tuple[float, int, Message]] = []
        self._seq = itertools.count()
        self._next_client = 0

    # -- input ------------------------------------------------------------------------------
    def put(self, messages: list[Message]) -> None:
        self.message_count += len(messages)
        self.backlog.put(messages)
        self.pump()

    def put_deferred(self, message: Message, delay: float) -> None:
        self.message_count += 1
        self._defer(message, delay)

    def _defer(self, message: Message, delay: float) -> None:
        heapq.heappush(self._deferred, (time.monotonic() + delay, next(self._seq), message))

    # -- delivery ---------------------------------------------------------------------------
    def pump(self) -> None:
        """Send queued messages to ready consumers until one or the other runs out."""
        if self.paused or not self.clients:
            return
        backlog = self.backlog
        while len(backlog):
            client = self._ready_client()
            if client is None:
                return
            message = backlog.pop()
            if message is None:
                return
            if client.sample_rate and random.randrange(100) > client.sample_rate:
                continue  # nsqd's sampling: this consumer skips (and drops) the message
            if message.attempts < _MAX_ATTEMPTS:
                message.attempts += 1
            now = time.monotonic()
            message.client = client
            message.delivered_at = now
            message.deadline = now + client.msg_timeout
            client.in_flight[message.id] = message
            client.send_message(message)

    def _ready_client(self) -> Consumer | None:
        clients = self.clients
        n = len(clients)
        for i in range(n):
            client = clients[(self._next_client + i) % n]
            if client.rdy > len(client.in_flight) and client.subscribed:
                self._next_client = (self._next_client + i + 1) % n
                return client
        return None

    # -- acknowledgements --------------------------------------------------------------------
    def _take(self, client: Consumer, msg_id: bytes) -> Message:
        message = client.in_flight.pop(msg_id, None)
        if message is None:
            owned = any(msg_id in other.in_flight for other in self.clients if other is not client)
            raise LookupError("client does not own message" if owned else "ID not in flight")
        message.client = None
        return message

    def finish(self, client: Consumer, msg_id: bytes) -> None:
        self._take(client, msg_id)

    def requeue(self, client: Consumer, msg_id: bytes, delay: float) -> None:
        message = self._take(client, msg_id)
        self.requeue_count += 1
        if delay > 0:
            self._defer(message, delay)
        else:
            self.backlog.put([message])

    def touch(self, client: Consumer, msg_id: bytes) -> None:
        message = client.in_flight.pop(msg_id, None)
        if message is None:
            message = self._take(client, msg_id)  # raises with nsqd's reason
        now = time.monotonic()
        message.deadline = min(now + client.msg_timeout,
                               message.delivered_at + self._max_msg_timeout)
        client.in_flight[msg_id] = message  # re-inserted at the end: latest deadline

    # -- consumers --------------------------------------------------------------------------
    def add_client(self, client: Consumer) -> None:
        self.clients.append(client)

    def remove_client(self, client: Consumer) -> None:
        """A consumer left: nobody can FIN its messages any more, so requeue them now."""
        if client in self.clients:
            self.clients.remove(client)
        orphans = list(client.in_flight.values())
        client.in_flight.clear()
        if orphans and not self.deleted:
            for message in orphans:
                message.client = None
            self.timeout_count += len(orphans)
            self.backlog.put(orphans)
            self.pump()
        if not self.clients and self.ephemeral and not self.deleted:
            self._on_last_client_left(self)

    # -- timers -----------------------------------------------------------------------------
    def scan(self, now: float) -> None:
        """Requeue timed-out in-flight messages and release due deferred ones."""
        for client in self.clients:
            in_flight = client.in_flight
            expired = []
            for message in in_flight.values():
                if message.deadline > now:
                    break
                expired.append(message)
            for message in expired:
                del in_flight[message.id]
                message.client = None
            if expired:
                self.timeout_count += len(expired)
                self.backlog.put(expired)
        due = []
        deferred = self._deferred
        while deferred and deferred[0][0] <= now:
            due.append(heapq.heappop(deferred)[2])
        if due:
            self.backlog.put(due)
        self.pump()

    @property
    def in_flight_count(self) -> int:
        return sum(len(c.in_flight) for c in self.clients)

    @property
    def deferred_count(self) -> int:
        return len(self._deferred)

    # -- administration ---------------------------------------------------------------------
    def pause(self) -> None:
        self.paused = True

    def unpause(self) -> None:
        self.paused = False
        self.pump()

    def empty(self) -> None:
        """Drop queued, deferred and in-flight messages (FINs for them then fail)."""
        self.backlog.empty()
        self._deferred.clear()
        for client in self.clients:
            client.in_flight.clear()

    def delete(self) -> None:
        self.deleted = True
        for client in list(self.clients):
            client.close()
        self.empty()

    def close(self) -> None:
        """Shutdown: persist queued, in-flight and deferred messages (deferral is lost)."""
        pending: list[Message] = []
        for client in self.clients:
            pending.extend(client.in_flight.values())
            client.in_flight.clear()
        pending.extend(item[2] for item in sorted(self._deferred))
        self._deferred.clear()
        for message in pending:
            message.client = None
        self.backlog.close(pending)

    def sync(self) -> None:
        self.backlog.sync()
