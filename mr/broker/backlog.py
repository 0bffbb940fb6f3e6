"""The queue of a topic or channel: a bounded in-memory deque that spills to disk.

Memory holds at most `mem_size` messages; the rest go to a DiskQueue. Once anything is on
disk, new messages go to disk too until it drains, so delivery stays first-in first-out.
Ephemeral queues have no disk: like nsqd, they drop what does not fit in memory.
"""
from __future__ import annotations

import logging
from collections import deque

from mr.broker.message import Message, decode_message
from mr.broker.store import DiskQueue

log = logging.getLogger("mr.broker")


class Backlog:
    def __init__(self, name: str, mem_size: int, disk: DiskQueue | None) -> None:
        self.name = name
        self._mem: deque[Message] = deque()
        # An ephemeral queue needs at least one slot, or it could never hand a message on.
        self._mem_size = mem_size if disk is not None else max(1, mem_size)
        self._disk = disk
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._mem) + (self._disk.depth if self._disk is not None else 0)

    @property
    def disk_depth(self) -> int:
        return self._disk.depth if self._disk is not None else 0

    def put(self, messages: list[Message]) -> None:
        mem = self._mem
        disk = self._disk
        room = self._mem_size - len(mem) if disk is None or disk.depth == 0 else 0
        if room >= len(messages):
            mem.extend(messages)
            return
        if room > 0:
            mem.extend(messages[:room])
            messages = messages[room:]
        if disk is not None:
            disk.put([m.encode() for m in messages])
        else:
            self.dropped += len(messages)
            log.warning("QUEUE(%s): memory full, dropped %d ephemeral message(s)",
                        self.name, len(messages))

    def pop(self) -> Message | None:
        if self._mem:
            return self._mem.popleft()
        if self._disk is not None:
            data = self._disk.pop()
            if data is not None:
                return decode_message(data)
        return None

    def empty(self) -> None:
        """Drop everything queued, in memory and on disk (empty or delete)."""
        self._mem.clear()
        if self._disk is not None:
            self._disk.delete()

    def sync(self) -> None:
        if self._disk is not None:
            self._disk.sync()

    def close(self, extra: list[Message]) -> None:
        """Persist memory (plus `extra`, e.g. in-flight messages) to disk and close it."""
        if self._disk is None:
            return
        pending = list(self._mem) + extra
        self._mem.clear()
        if pending:
            self._disk.put([m.encode() for m in pending])
        self._disk.close()
