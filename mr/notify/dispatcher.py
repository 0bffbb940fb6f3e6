"""Sending off the caller's thread: one background thread and one bounded queue per channel, so
a slow or dead SMTP server delays neither handlers nor the other channels.

A full queue drops the notification and logs it: losing a notification beats stalling a worker.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Protocol

log = logging.getLogger("mr.notify")


class Channel(Protocol):
    """Somewhere notifications go. send() may block and may raise; the dispatcher copes."""

    def send(self, message: dict) -> None: ...


class Dispatcher:
    def __init__(self, channel: Channel, queue_size: int = 1000):
        self.channel = channel
        self._size = queue_size
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._closed = False
        self._queue: queue.Queue[dict | None] | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, message: dict) -> bool:
        """Queue `message` for sending; False (and a log line) when it had to be dropped."""
        with self._lock:
            if self._closed:
                log.warning("notifier closed: dropped %s notification %r for %s",
                            message["event"], message["subject"], self.channel)
                return False
            self._start()
            assert self._queue is not None  # _start() made it
            try:
                self._queue.put_nowait(message)
            except queue.Full:
                log.warning("notification queue for %s is full (%d waiting): dropped %s "
                            "notification %r", self.channel, self._size, message["event"],
                            message["subject"])
                return False
            self._pending += 1
            return True

    def _start(self) -> None:
        """Start the thread on first use, and again in a forked child (threads do not fork)."""
        if self._thread is not None and self._pid == os.getpid():
            return
        self._pid, self._pending = os.getpid(), 0
        self._queue = queue.Queue(self._size)
        self._thread = threading.Thread(target=self._run, args=(self._queue,), daemon=True,
                                        name=f"mr-notify {self.channel}")
        self._thread.start()

    def _run(self, messages: queue.Queue[dict | None]) -> None:
        while True:
            message = messages.get()
            if message is None:
                return
            try:
                self.channel.send(message)
            except Exception as exc:   # noqa: BLE001 - a notification must never break anything
                log.warning("could not send %s notification %r to %s: %s", message["event"],
                            message["subject"], self.channel, exc)
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending <= 0:
                        self._idle.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued was sent (or failed); False if `timeout` ran out."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending > 0 and self._pid == os.getpid():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return True

    def close(self, timeout: float) -> bool:
        """Send what is queued (up to `timeout`), then stop the thread. Later submits drop."""
        flushed = self.flush(timeout)
        with self._lock:
            self._closed = True
            thread, messages = self._thread, self._queue
        if thread is not None and messages is not None and self._pid == os.getpid():
            try:
                messages.put_nowait(None)
            except queue.Full:
                return False   # still busy after the timeout: the daemon thread is abandoned
            thread.join(timeout)
        return flushed
