"""What a handler gets as `ctx`: who it is, a log captured per invocation, and its session."""
from __future__ import annotations

import contextlib
import io
import sys
import threading
import traceback
from typing import Any, Iterator

from mr.kv import keys
from mr.kv.client import KV, cmp_present, op_put
from mr.kv.codec import pack, unpack

MAX_LOG_BYTES = 64 * 1024
_TRUNCATED = "\n[log truncated: {} more bytes dropped]\n"


class InvocationLog:
    """A bounded buffer for what one invocation logs or prints."""

    def __init__(self, limit: int = MAX_LOG_BYTES):
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
        body = "".join(self._parts)
        return body + _TRUNCATED.format(self._dropped) if self._dropped else body


class _ThreadStdout(io.TextIOBase):
    """sys.stdout that sends a thread's prints to its invocation's log while one runs."""

    def __init__(self, real):
        self.real = real
        self.local = threading.local()

    def write(self, text: str) -> int:
        target = getattr(self.local, "log", None)
        (target or self.real).write(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()


@contextlib.contextmanager
def capture_prints(log: InvocationLog) -> Iterator[None]:
    if not isinstance(sys.stdout, _ThreadStdout):
        sys.stdout = _ThreadStdout(sys.stdout)
    sys.stdout.local.log = log
    try:
        yield
    finally:
        sys.stdout.local.log = None


class SessionReadOnly(PermissionError):
    pass


class Session:
    """The durable key/value namespace of one mapper invocation; its reducer reads it."""

    def __init__(self, kv: KV, workflow: str, request_id: str, invocation_id: str,
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


class Context:
    """Passed to every handler as its first argument."""

    def __init__(self, *, workflow: str, request_id: str, invocation_id: str, step: str,
                 handler: str, version: str, attempt: int, session: Session,
                 log: InvocationLog):
        self.workflow = workflow
        self.request_id = request_id
        self.invocation_id = invocation_id
        self.step = step
        self.handler = handler
        self.version = version
        self.attempt = attempt
        self.session = session
        self.log = log
