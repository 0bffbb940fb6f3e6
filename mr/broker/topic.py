"""A topic: fans every published message out to each of its channels.

While a topic has no channel, or is paused, messages wait in the topic's own backlog and
are handed to the channels when the first one appears or the topic is unpaused.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from mr.broker.backlog import Backlog
from mr.broker.channel import Channel
from mr.broker.message import Message
from mr.broker.protocol import is_ephemeral

log = logging.getLogger("mr.broker")
_DRAIN_BATCH = 1000


class Topic:
    def __init__(self, name: str, backlog: Backlog,
                 new_channel: Callable[[Topic, str], Channel],
                 on_last_channel_left: Callable[[Topic], object],
                 on_channel_deleted: Callable[[Topic, str], None] | None = None) -> None:
        self.name = name
        self.ephemeral = is_ephemeral(name)
        self.backlog = backlog
        self.channels: dict[str, Channel] = {}
        self.paused = False
        self.message_count = 0
        self.message_bytes = 0
        self._new_channel = new_channel
        self._on_last_channel_left = on_last_channel_left
        self._on_channel_deleted = on_channel_deleted  # lookupd UNREGISTER
        # Deferred messages waiting for a channel: (due monotonic time, message).
        self._deferred: list[tuple[float, Message]] = []

    def put(self, messages: list[Message], delay: float = 0.0) -> None:
        self.message_count += len(messages)
        self.message_bytes += sum(len(m.body) for m in messages)
        if delay > 0:
            if self.channels and not self.paused:
                self._fan_out_deferred(messages, delay)
            else:
                due = time.monotonic() + delay
                self._deferred.extend((due, m) for m in messages)
            return
        if self.channels and not self.paused:
            self._fan_out(messages)
        else:
            self.backlog.put(messages)

    def _fan_out(self, messages: list[Message]) -> None:
        for i, channel in enumerate(self.channels.values()):
            channel.put(messages if i == 0 else [m.copy() for m in messages])

    def _fan_out_deferred(self, messages: list[Message], delay: float) -> None:
        for i, channel in enumerate(self.channels.values()):
            for message in messages:
                channel.put_deferred(message if i == 0 else message.copy(), delay)

    def _drain(self) -> None:
        """Hand everything the topic held back to its channels."""
        if not self.channels or self.paused:
            return
        now = time.monotonic()
        for due, message in self._deferred:
            self._fan_out_deferred([message], max(0.0, due - now))
        self._deferred.clear()
        while len(self.backlog):
            batch: list[Message] = []
            while len(batch) < _DRAIN_BATCH:
                popped = self.backlog.pop()
                if popped is None:
                    break
                batch.append(popped)
            self._fan_out(batch)

    # -- channels ---------------------------------------------------------------------------
    def get_channel(self, name: str) -> Channel:
        channel = self.channels.get(name)
        if channel is None:
            channel = self._new_channel(self, name)
            self.channels[name] = channel
            log.info("TOPIC(%s): new channel(%s)", self.name, name)
            self._drain()
        return channel

    def delete_channel(self, name: str) -> bool:
        channel = self.channels.pop(name, None)
        if channel is None:
            return False
        log.info("TOPIC(%s): deleting channel %s", self.name, name)
        channel.delete()
        if self._on_channel_deleted is not None:
            self._on_channel_deleted(self, name)
        if not self.channels and self.ephemeral:
            self._on_last_channel_left(self)
        return True

    # -- administration ---------------------------------------------------------------------
    def pause(self) -> None:
        self.paused = True

    def unpause(self) -> None:
        self.paused = False
        self._drain()

    def empty(self) -> None:
        """Drop what the topic itself holds (channels keep their copies, as in nsqd)."""
        self.backlog.empty()
        self._deferred.clear()

    def delete(self) -> None:
        for name in list(self.channels):
            self.channels.pop(name).delete()
        self.empty()

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        self.backlog.close([m for _, m in self._deferred])
        self._deferred.clear()

    def sync(self) -> None:
        self.backlog.sync()
        for channel in self.channels.values():
            channel.sync()

    @property
    def depth(self) -> int:
        return len(self.backlog) + len(self._deferred)
