"""A message as the broker holds it, its disk encoding and its ID generator."""
from __future__ import annotations

import time
from typing import Any

from mr.broker.protocol import MIN_MESSAGE_LENGTH, MSG_HEADER, MSG_ID_LENGTH

_ID_BITS = 54


class Message:
    """One copy of a published message in one topic or channel.

    Every channel gets its own copy, so per-delivery state (attempts, owner, deadline)
    lives on the copy.
    """

    __slots__ = ("id", "body", "timestamp", "attempts", "client", "delivered_at", "deadline")

    def __init__(self, msg_id: bytes, body: bytes, timestamp: int | None = None,
                 attempts: int = 0) -> None:
        self.id = msg_id
        self.body = body
        self.timestamp = time.time_ns() if timestamp is None else timestamp
        self.attempts = attempts
        self.client: Any = None          # the connection it is in flight to, if any
        self.delivered_at = 0.0          # monotonic time of the current delivery
        self.deadline = 0.0              # monotonic time at which it times out

    def copy(self) -> Message:
        return Message(self.id, self.body, self.timestamp, self.attempts)

    def encode(self) -> bytes:
        """nsqd's message encoding: timestamp, attempts, id, body (used on disk)."""
        return MSG_HEADER.pack(self.timestamp, self.attempts) + self.id + self.body


def decode_message(data: bytes) -> Message:
    """Inverse of Message.encode."""
    if len(data) < MIN_MESSAGE_LENGTH:
        raise ValueError(f"invalid message buffer size ({len(data)})")
    timestamp, attempts = MSG_HEADER.unpack_from(data)
    start = MSG_HEADER.size
    msg_id = bytes(data[start:start + MSG_ID_LENGTH])
    return Message(msg_id, bytes(data[start + MSG_ID_LENGTH:]), timestamp, attempts)


class IdGenerator:
    """Unique 16-hex-digit message IDs, like nsqd's GUIDs.

    The node id fills the top bits so brokers differ; the rest counts up from the start
    time in microseconds, so IDs stay unique across restarts as long as a run publishes
    fewer than one message per microsecond on average.
    """

    def __init__(self, node_id: int) -> None:
        self._prefix = (node_id & 0x3FF) << _ID_BITS
        self._next = time.time_ns() // 1000

    def new_id(self) -> bytes:
        value = self._next
        self._next = value + 1
        return b"%016x" % (self._prefix | (value & ((1 << _ID_BITS) - 1)))
