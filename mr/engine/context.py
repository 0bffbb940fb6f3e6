"""What a handler gets as `ctx`: who it is, a log captured per invocation, its session, the
workflow's shared filesystem, notifications and its time limit. An explicit object, not
globals: a handler file stays a plain module that can be imported and tested."""
from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any, Protocol

from mr import values
from mr.handler_metrics import METRICS
from mr.kv import keys
from mr.kv.client import TxnResult, cmp_present, op_put
from mr.kv.codec import pack, unpack
from mr.kv.entry import Entry
from mr.kv.models import Invocation

MAX_LOG_BYTES = 64 * 1024
MAX_STATUS = 200   # characters of a status message
MAX_TALLIES = 100      # distinct tally names of one run: names, not ids
MAX_TALLY_NAME = 100   # characters of a tally's name
ENGINE_TALLIES = "mr."   # the names the engine tallies under (mr.engine.data_work)
_TRUNCATED = "\n[log truncated: {} more bytes dropped]\n"


class _Bounded:
    """Text kept up to a limit; what passes it is counted, and said at the end."""

    def __init__(self, limit: int):
        self.limit = limit
        self._parts: list[str] = []
        self._size = 0
        self._dropped = 0

    def write(self, text: str) -> None:
        if self._size + len(text) > self.limit:
            keep = max(self.limit - self._size, 0)
            self._dropped += len(text) - keep
            text = text[:keep]
        if text:
            self._parts.append(text)
            self._size += len(text)

    def text(self) -> str:
        body = "".join(self._parts)
        return body + _TRUNCATED.format(self._dropped) if self._dropped else body

    @property
    def written(self) -> int:
        return self._size + self._dropped


class InvocationLog:
    """What one invocation logs or prints (bounded), and apart from it what it writes to
    stderr: a subprocess handler's stderr, Python's sys.stderr (warnings, a library's
    complaints), so that a handler's own messages are not lost among them. And what it
    tallied (ctx.tally): kept with the run only if the run commits."""

    def __init__(self, limit: int = MAX_LOG_BYTES):
        self.limit = limit
        self._out = _Bounded(limit)
        self._err = _Bounded(limit)
        self.status: str | None = None   # ctx.status's last message (mr.engine.live_logs)
        self.tallies: dict[str, int] = {}
        self._tally_lock = threading.Lock()

    def tally(self, name: str, n: int = 1) -> None:
        if not isinstance(name, str) or not 0 < len(name) <= MAX_TALLY_NAME:
            raise ValueError(f"a tally's name is a string of 1-{MAX_TALLY_NAME} characters, "
                             f"not {name!r:.120}")
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"tally {name!r} adds an int, not {type(n).__name__} {n!r:.80}")
        with self._tally_lock:
            # the engine's own names come on top of a handler's MAX_TALLIES
            if (name not in self.tallies and not name.startswith(ENGINE_TALLIES)
                    and self._handlers_names() >= MAX_TALLIES):
                raise ValueError(f"tally {name!r} would be this run's {MAX_TALLIES + 1}th: "
                                 f"tally by kinds of things (a few names), not by ids")
            self.tallies[name] = self.tallies.get(name, 0) + n

    def _handlers_names(self) -> int:
        return sum(not name.startswith(ENGINE_TALLIES) for name in self.tallies)

    def add_tallies(self, tallies: dict[str, int] | None) -> None:
        """Another process's tallies of this run (a data process's reply)."""
        for name, n in (tallies or {}).items():
            self.tally(name, n)

    def write(self, text: str) -> None:
        self._out.write(text)

    def write_stderr(self, text: str) -> None:
        self._err.write(text)

    def _line(self, level: str, msg: str, args: tuple) -> None:
        self.write(f"{level} {msg % args if args else msg}\n")

    def debug(self, msg: str, *args) -> None:
        self._line("DEBUG", msg, args)

    def info(self, msg: str, *args) -> None:
        self._line("INFO", msg, args)

    def warning(self, msg: str, *args) -> None:
        self._line("WARNING", msg, args)

    def error(self, msg: str, *args) -> None:
        self._line("ERROR", msg, args)

    def exception(self, msg: str, *args) -> None:
        self._line("ERROR", msg, args)
        self.write(traceback.format_exc())

    def text(self) -> str:
        return self._out.text()

    def stderr_text(self) -> str:
        return self._err.text()

    def keep_in(self, inv: Invocation) -> None:
        """Onto the invocation's record: its log, its stderr and its tallies, each when not
        empty."""
        inv.log, inv.stderr = self.text() or None, self.stderr_text() or None
        inv.tallies = dict(self.tallies) or None

    @property
    def written(self) -> int:
        """How much was written so far, kept or dropped: it changes whenever the log does."""
        return self._out.written + self._err.written


class _ThreadStream(io.TextIOBase):
    """sys.stdout or sys.stderr that sends a thread's writes to its invocation's log while
    one runs (`write` names the log's method), and others' to the real stream."""

    def __init__(self, real, write: str):
        self.real = real
        self.method = write
        self.local = threading.local()

    def write(self, text: str) -> int:
        target = getattr(self.local, "log", None)
        if target is None:
            self.real.write(text)
        else:
            getattr(target, self.method)(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()


@contextlib.contextmanager
def capture_prints(log: InvocationLog) -> Iterator[None]:
    """This thread's sys.stdout into `log`, its sys.stderr into `log`'s stderr."""
    if not isinstance(sys.stdout, _ThreadStream):
        sys.stdout = _ThreadStream(sys.stdout, "write")
    if not isinstance(sys.stderr, _ThreadStream):
        sys.stderr = _ThreadStream(sys.stderr, "write_stderr")
    sys.stdout.local.log = sys.stderr.local.log = log
    try:
        yield
    finally:
        sys.stdout.local.log = sys.stderr.local.log = None


class SessionReadOnly(PermissionError):
    pass


class SessionKV(Protocol):
    """What a Session uses of etcd: a Store (mr.kv.store), or in a data process one that
    connects on first use (mr.engine.data_process)."""

    def txn(self, compare: list, success: list) -> TxnResult: ...

    def get(self, key: str) -> Entry | None: ...

    def delete(self, key: str) -> int: ...

    def scan(self, prefix: str) -> Iterator[Entry]: ...


class Session:
    """The durable key/value namespace of one mapper invocation; its reducer reads it."""

    def __init__(self, kv: SessionKV, workflow: str, request_id: str, invocation_id: str,
                 writable: bool):
        self._kv = kv
        self._prefix = keys.session(workflow, request_id, invocation_id)
        self._live = keys.live(workflow, request_id)
        self.writable = writable

    def _check(self, key: str) -> str:
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"session keys are non-empty strings without '/': {key!r}")
        return key

    def set(self, key: str, value: Any) -> None:
        if not self.writable:
            raise SessionReadOnly("a reducer reads its mapper's session; it cannot write it")
        values.check(value, f"session value {key!r}")
        self._kv.txn([cmp_present(self._live)], [op_put(self._prefix + self._check(key),
                                                        pack(value))])

    def get(self, key: str, default: Any = None) -> Any:
        entry = self._kv.get(self._prefix + self._check(key))
        return default if entry is None else unpack(entry.value)

    def delete(self, key: str) -> None:
        if not self.writable:
            raise SessionReadOnly("a reducer reads its mapper's session; it cannot delete")
        self._kv.delete(self._prefix + self._check(key))

    def items(self) -> dict[str, Any]:
        return {e.key[len(self._prefix):]: unpack(e.value) for e in self._kv.scan(self._prefix)}


class _ToLog(logging.Handler):
    def __init__(self, log: InvocationLog):
        super().__init__(logging.DEBUG)
        self.log = log
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.log.write(self.format(record) + "\n")


class Context:
    """Passed to every handler as its first argument.

    workflow, request_id, invocation_id, step, handler, version, attempt: who is running.
    log      the invocation's captured log (info/warning/error/exception, and what it prints)
    logger   a logging.Logger writing into the same log (for libraries that want one)
    status(message)  what it is doing now, shown with the request's progress
    tally(name, n=1)  add to the request's tally `name`: summed over the runs that commit
    metrics  counter(name, **labels).inc(), timer(name, **labels): on the worker's /metrics
    session  set/get/delete/items: the mapper invocation's durable namespace (read-only in
             its reducer)
    fs       the workflow's shared filesystem (mr.fs.WorkflowFS; paths relative to its root)
    time_limit  `remaining()` seconds of the handler's time_limit_s (None: no limit)
    notify(subject, **details)  send a "custom" notification (never raises)
    split    a data mapper's input split: {"path", "start", "end"}, to tell inputs apart
    """

    def __init__(self, *, workflow: str, request_id: str, invocation_id: str, step: str,
                 handler: str, version: str, attempt: int, session: Session,
                 log: InvocationLog, fs=None, notifier=None, time_limit=None):
        self.workflow = workflow
        self.request_id = request_id
        self.invocation_id = invocation_id
        self.step = step
        self.handler = handler
        self.version = version
        self.attempt = attempt
        self.session = session
        self.log = log
        self.fs = fs
        self.time_limit = time_limit
        self._notifier = notifier
        self._logger: logging.Logger | None = None
        self.metrics = METRICS.bound(workflow, handler)
        # a data mapper's input split: {"path", "start", "end"} (end -1: the whole file)
        self.split: dict | None = None

    @property
    def logger(self) -> logging.Logger:
        """A logger of this invocation only: not registered globally, so it is freed with it."""
        if self._logger is None:
            logger = logging.Logger(f"mr.handler.{self.handler}", logging.DEBUG)
            logger.propagate = False
            logger.addHandler(_ToLog(self.log))
            self._logger = logger
        return self._logger

    def status(self, message: str) -> None:
        """Say what the handler is doing ("downloading 3/10"): shown with its progress while
        it runs, and kept after. Written to etcd at most every 2 s, however often it is set."""
        self.log.status = str(message)[:MAX_STATUS]

    def tally(self, name: str, n: int = 1) -> None:
        """Add `n` to tally `name` ("bad_lines"): the request's tallies sum what its
        invocations' committed runs tallied, so a run that fails or is run twice counts once
        or not at all. Shown with its progress while it runs, kept in its record after."""
        if isinstance(name, str) and name.startswith(ENGINE_TALLIES):
            raise ValueError(f"tally {name!r}: names that start with {ENGINE_TALLIES!r} are "
                             f"the engine's own (a data request's counters); choose another")
        self.log.tally(name, n)

    def notify(self, subject: str, **details: Any) -> None:
        """A "custom" notification, sent when MR_NOTIFY_EVENTS includes custom."""
        if self._notifier is None:
            self.log.warning("notification not sent (no notifier): %s", subject)
            return
        self._notifier.notify("custom", subject, {
            "workflow": self.workflow, "request_id": self.request_id,
            "invocation_id": self.invocation_id, "handler": self.handler, **details})
