"""Each data-plane invocation in a fresh process of its own (MR_DATA_ISOLATION=process).

CPython never moves an object, so a worker that has run for a while has its free memory
scattered between the long-lived objects of its other threads (etcd watches, the broker's
connection, metrics). A handler that builds a big dict there runs up to twice as slow as in a
fresh process: Counter.update over a 32 MiB split took 1.3 s in a fresh process and 2.7 s in
a worker that had run 15 splits. So the worker hands each split's map and each partition's
reduce to a process forked from a small server process that has loaded only the engine
(multiprocessing's "forkserver"): every run starts on a fresh heap, gives its memory back to
the system when it ends, and a time limit kills it outright instead of waiting for a yield.

The child loads the handlers from their stored definitions, runs mr.engine.data_work and
sends back one reply: the committed files' reference, or the handler failure (class, message,
traceback) that the worker raises as its own, with what the handler logged. The child
ignores SIGINT and SIGTERM (a worker's graceful stop lets its invocations finish) and is
killed when its server process ends, which it does when the worker dies. While it runs, the
worker asks etcd every END_CHECK_S whether its request still runs, and kills it when the
request has ended (cancelled, failed by another split, timed out): a gigabyte split does not
keep a core for minutes after its request was given up. Its files go with the request's.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from mr import fs
from mr.config import Settings
from mr.engine import data_work
from mr.engine.calls import HandlerFailure, InputFailure, StorageFailure
from mr.engine.context import Context, InvocationLog, Session, capture_prints
from mr.engine.outcome import RequestEnded
from mr.engine.timelimit import TimeLimit, TimeLimitExceeded, Watchdog, time_limit_failure
from mr.handlers import processors
from mr.handlers.processors import LoadedHandler
from mr.handlers.scope import HandlerScope
from mr.kv.models import Handler, Invocation, Step
from mr.notify import Notifier

if TYPE_CHECKING:
    from multiprocessing.context import ForkServerContext  # not on Windows
    from multiprocessing.process import BaseProcess

    from mr.kv.client import KV

FAILURES = {cls.__name__: cls for cls in (HandlerFailure, InputFailure, StorageFailure,
                                          TimeLimitExceeded)}
_PR_SET_PDEATHSIG = 1
# A data handler builds millions of containers that live until its run ends (records, an
# index's id lists, a merge's values); CPython's collector, run every 700 allocations, walks
# them again and again and finds no garbage: 15 % of an index job's time. A run's process is
# its own and short-lived, so it collects cycles a hundred times less often.
GC_THRESHOLDS = (100_000, 20, 100)
END_CHECK_S = 1.0   # how often a worker asks whether a running child's request has ended


class ReplyKind(StrEnum):
    """A child's one reply, by its "kind", and what else each kind holds."""
    DONE = "done"       # "value": the committed files' reference
    FAILED = "failed"   # the handler failed: its failure's "class", "message", "trace", ...
    DIED = "died"       # no reply: the process ended first ("message"; made by the worker)
    ENDED = "ended"     # the request ended meanwhile: the worker killed the child
    ERROR = "error"     # the engine's code failed in the child ("message", "trace")


class DataProcessError(RuntimeError):
    """The child failed outside the handler's code (an engine error: retried, then fails
    the request with reason "engine"); the message carries its traceback."""


@dataclass
class DataTask:
    """All a child needs, pickled to it: who runs, the handlers' stored definitions."""
    settings: Settings
    workflow: str
    request_id: str
    step: Step
    inv: Invocation
    attempt: int
    handlers: dict[str, Handler]     # role (mapper, combiner, reducer) -> definition
    scope: str | None = None         # the workflow's scope factory, "package.module:function"
    refs: list[dict] = field(default_factory=list)   # a partition's reduce: every split's runs
    mapped: str = ""                 # a partition's reduce: the mapper whose session it reads


class DataProcesses:
    """Starts the children (through one forkserver per worker, started on first use)."""

    def __init__(self) -> None:
        self._context: ForkServerContext | None = None
        self._lock = threading.Lock()

    def _start_method(self) -> ForkServerContext:
        with self._lock:
            if self._context is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload([__name__])
                self._context = context
            return self._context

    def warm(self) -> None:
        """Start the server process now (importing the engine takes it a few hundred ms),
        so that a worker's first split does not wait for it."""
        self._start_method()
        forkserver.ensure_running()

    def run(self, task: DataTask, handlers: dict[str, LoadedHandler], out: InvocationLog,
            after: tuple[float, Callable[[], None]] | None = None,
            ended: Callable[[], bool] | None = None) -> dict:
        """Run `task` in a child; its reply, or its failure raised as the worker's own.

        `after` = (seconds, callback): call it once if the child is still running then.
        `ended()`, asked every END_CHECK_S while the child runs: True kills the child and
        raises RequestEnded.
        """
        context = self._start_method()
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_child, args=(task, sender), daemon=True,
                                name=f"mr-data {task.request_id} {task.inv.id}")
        child.start()
        sender.close()
        try:
            reply = _wait(child, receiver, after, ended)
        finally:
            receiver.close()
            child.join(5)
            if child.exitcode is None:
                child.kill()
                child.join()
        out.write(reply.get("log") or "")
        out.write_stderr(reply.get("stderr") or "")
        out.add_tallies(reply.get("tallies"))
        kind = reply["kind"]
        if kind == ReplyKind.DONE:
            return reply["value"]
        if kind == ReplyKind.ENDED:
            raise RequestEnded()
        if kind == ReplyKind.FAILED:
            cls = FAILURES.get(reply["class"], HandlerFailure)
            owner = next((h for h in handlers.values()
                          if h.definition.name == reply["handler"]), None)
            raise cls(reply["message"], owner, reply["trace"], reply["raised"])
        if kind == ReplyKind.DIED:
            role = "mapper" if task.inv.split is not None else "reducer"
            raise HandlerFailure(reply["message"], handlers.get(role))
        raise DataProcessError(f"data process of invocation {task.inv.id} failed: "
                               f"{reply['message']}\n{reply['trace']}")


def _wait(child: BaseProcess, receiver: Connection,
          after: tuple[float, Callable[[], None]] | None,
          ended: Callable[[], bool] | None) -> dict:
    started = time.monotonic()
    check_at = started + END_CHECK_S
    while True:
        due = [started + after[0]] if after is not None else []
        if ended is not None:
            due.append(check_at)
        timeout = max(min(due) - time.monotonic(), 0) if due else None
        ready = wait([receiver, child.sentinel], timeout)
        if not ready:
            now = time.monotonic()
            if after is not None and now >= started + after[0]:
                after[1]()
                after = None
            if ended is not None and now >= check_at:
                check_at = now + END_CHECK_S
                if ended():
                    child.kill()
                    child.join()
                    return {"kind": ReplyKind.ENDED}
            continue
        if receiver in ready or receiver.poll():
            try:
                return receiver.recv()
            except EOFError:
                pass
        child.join()
        code = child.exitcode
        assert code is not None   # joined
        how = (f"was killed by {signal.Signals(-code).name}" if code < 0
               else f"exited with status {code}")
        return {"kind": ReplyKind.DIED, "message": f"the process running invocation {child.name} "
                f"{how} before it replied (out of memory?)"}


# --- in the child ------------------------------------------------------------------------
def _child(task: DataTask, sender: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):   # not Linux: it outlives the worker
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    _let_the_server_end()
    gc.set_threshold(*GC_THRESHOLDS)
    out = InvocationLog()
    reply = _Reply(sender, out)
    try:
        with capture_prints(out):
            value = _work(task, out, reply)
        reply.send({"kind": ReplyKind.DONE, "value": value})
    except HandlerFailure as failure:
        reply.send(_failed(failure))
    except BaseException as exc:
        reply.send({"kind": ReplyKind.ERROR, "message": f"{exc.__class__.__name__}: {exc}",
                    "trace": traceback.format_exc()})


def _let_the_server_end() -> None:
    """Close this child's copy of the pipe whose end tells the server process that the worker
    is gone. multiprocessing hands every child one, so that it could start children of its
    own through the same server; but while any child holds it, the server outlives a killed
    worker, and so do its children (their parent-death signal waits for the server): a dead
    worker's splits would run on and commit files that nothing records."""
    server = forkserver._forkserver
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None  # type: ignore[attr-defined]  # not in typeshed


def _work(task: DataTask, out: InvocationLog, reply: _Reply) -> dict:
    scope = HandlerScope(task.workflow, task.scope) if task.scope else None
    loaded = {role: processors.load(definition, scope)
              for role, definition in task.handlers.items()}
    for handler in loaded.values():
        if handler.function is None:
            raise HandlerFailure(f"handler {handler.definition.name} does not load in the "
                                 f"data process: {handler.error}", handler)
    env = _ChildEnv(task, out, reply)
    if task.inv.split is not None:
        return data_work.map_split(env, task.request_id, task.inv, loaded["mapper"],
                                   loaded.get("combiner"), data_work.partitioner(task.step))
    return data_work.reduce_partition(env, task.request_id, task.inv, loaded["reducer"],
                                      task.refs, task.mapped)


def _failed(failure: HandlerFailure) -> dict:
    return {"kind": ReplyKind.FAILED, "class": type(failure).__name__, "message": str(failure),
            "trace": failure.trace, "raised": failure.raised,
            "handler": failure.handler.definition.name if failure.handler else None}


class _Reply:
    """The child's one reply (the time-limit thread may race the main one to send it)."""

    def __init__(self, sender: Connection, out: InvocationLog):
        self._sender, self._out = sender, out
        self._lock = threading.Lock()
        self._sent = False

    def send(self, reply: dict) -> None:
        with self._lock:
            if not self._sent:
                self._sent = True
                self._sender.send({**reply, "log": self._out.text(),
                                   "stderr": self._out.stderr_text(),
                                   "tallies": self._out.tallies})


class _ChildEnv:
    """data_work's Env in a child: etcd (for ctx.session) is connected only if used."""

    def __init__(self, task: DataTask, out: InvocationLog, reply: _Reply):
        self.task, self.out, self.reply = task, out, reply
        self.fs = fs.workflow_fs(task.settings, task.workflow)
        self.watchdog = Watchdog()

    @contextlib.contextmanager
    def limited(self, handler: LoadedHandler) -> Iterator[TimeLimit]:
        failure = time_limit_failure(handler, self.task.inv.id)

        def expire() -> None:   # a handler stuck in its own loop never yields: end it here
            self.reply.send(_failed(failure()))
            os._exit(0)

        limit = self.watchdog.limit(handler.time_limit_s, failure,
                                    expire if handler.time_limit_s else None)
        try:
            yield limit
            limit.check()
        finally:
            self.watchdog.done(limit)

    def context(self, handler: LoadedHandler, session_of: str, writable: bool,
                limit: TimeLimit) -> Context:
        task = self.task
        session = Session(_LazyKV(task.settings), task.workflow, task.request_id, session_of,
                          writable)
        return Context(workflow=task.workflow, request_id=task.request_id,
                       invocation_id=task.inv.id, step=task.step.name,
                       handler=handler.definition.name, version=handler.definition.version,
                       attempt=task.attempt, session=session, log=self.out, fs=self.fs,
                       notifier=Notifier.from_settings(task.settings), time_limit=limit)


class _LazyKV:
    """An etcd client made on first use: most data handlers never touch their session."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._kv: KV | None = None

    def __getattr__(self, name: str) -> Any:
        if self._kv is None:
            from mr.kv.client import client
            self._kv = client(self._settings.etcd_hosts, self._settings.etcd_timeout_s)
        return getattr(self._kv, name)
