"""Per-handler time limits (`time_limit_s` metadata), kept by one watchdog thread per worker.

At the limit the watchdog fails the invocation (and so its request) at once, with a record
naming the handler and its limit. A subprocess handler's process is killed. A Python handler
runs in a thread, which cannot be killed: it stops at its next yield, and whatever it does
after the limit is discarded, because every write of the runner requires the request to be
live and the failure ended it. Until it returns, it keeps its worker thread.
"""
from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator

from mr.engine.calls import HandlerFailure
from mr.handlers.processors import LoadedHandler

log = logging.getLogger(__name__)


class TimeLimitExceeded(HandlerFailure):
    """The handler ran past its time limit; final (a retry would only run out of time again)."""

    final = True


def time_limit_failure(handler: LoadedHandler,
                       invocation_id: str) -> Callable[[], TimeLimitExceeded]:
    """What a run of `handler` past its limit fails with (made when it happens)."""
    seconds, name = handler.time_limit_s, handler.definition.name
    return lambda: TimeLimitExceeded(f"handler {name} exceeded its time limit of {seconds:g}s "
                                     f"(time_limit_s) in invocation {invocation_id}", handler)


def _not_a_limit() -> TimeLimitExceeded:
    raise AssertionError("a timer set by Watchdog.after() is not a time limit to check")


class TimeLimit:
    """One handler run's limit, as `ctx.time_limit`: `remaining()` lets a handler pace itself."""

    def __init__(self, seconds: float | None, failure: Callable[[], TimeLimitExceeded]):
        self.seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.expired = threading.Event()
        self._failure = failure
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self.cancelled = False

    def remaining(self) -> float | None:
        """Seconds left, or None without a limit."""
        return None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)

    def on_expire(self, callback: Callable[[], None]) -> None:
        """Run `callback` (from the watchdog thread) when the limit passes; now if it has."""
        with self._lock:
            if not self.expired.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def check(self) -> None:
        if self.expired.is_set():
            raise self._failure()

    def _expire(self) -> None:
        with self._lock:
            if self.cancelled or self.expired.is_set():
                return
            self.expired.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("time-limit callback failed")


class Watchdog:
    """Expires TimeLimits at their deadlines; one thread, started on first use."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimeLimit]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def limit(self, seconds: float | None, failure: Callable[[], TimeLimitExceeded],
              on_expire: Callable[[], None] | None = None) -> TimeLimit:
        """A running limit; call `done()` with it when the handler's run is over."""
        limit = TimeLimit(seconds, failure)
        if on_expire is not None:
            limit.on_expire(on_expire)
        deadline = limit.deadline
        if deadline is None:   # no limit (seconds is None): nothing to watch
            return limit
        with self._wake:
            heapq.heappush(self._heap, (deadline, next(self._order), limit))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="time-limits",
                                                daemon=True)
                self._thread.start()
            if self._heap[0][2] is limit:  # else the thread wakes up earlier anyway
                self._wake.notify()
        return limit

    @contextlib.contextmanager
    def after(self, call: tuple[float, Callable[[], None]] | None) -> Iterator[None]:
        """Within the block: `call` = (seconds, callback) calls the callback (from the watchdog
        thread) if the block still runs that long after it began. None: nothing."""
        if call is None:
            yield
            return
        seconds, callback = call
        limit = self.limit(seconds, _not_a_limit, callback)
        try:
            yield
        finally:
            self.done(limit)

    @staticmethod
    def done(limit: TimeLimit) -> None:
        """The run ended: its limit no longer applies (expired-ness stays as it was)."""
        with limit._lock:
            limit.cancelled = True

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                _, _, limit = heapq.heappop(self._heap)
            limit._expire()
