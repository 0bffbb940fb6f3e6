"""Run one invocation named by a message: the state machine of DESIGN.md §3, steps 3-5.

Runner.handle() returns normally when the message may be FINished (its outcome is durable in
etcd, or there is nothing left to do) and raises Retry when it must come back later. Handler
errors are outcomes, not retries: they fail the request (after the handler's own `retries`).
"""
from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Callable, Iterator

from mr.engine import protocol
from mr.engine.context import Context, InvocationLog, Session, capture_prints
from mr.engine.pairs import BadPair, as_pair, cast_argument, group, reducer_output
from mr.engine.results import write_result
from mr.handlers.api import MapTo, Return
from mr.handlers.library import Library, LoadedHandler
from mr.kv import keys
from mr.kv.client import KV
from mr.kv.codec import pack, unpack
from mr.kv.models import (DONE, FAILED, FINISHED_STATES, RUNNING, WAITING, Invocation, Request,
                          child_id, decode, parent_of, reduce_id, reduced_of)
from mr.queue import messages
from mr.queue.publisher import Publisher
from mr.queue.topics import topic

log = logging.getLogger(__name__)


class Retry(Exception):
    """Put the message back (REQ) and try again after `delay` seconds."""

    def __init__(self, reason: str, delay: float = 1.0):
        super().__init__(reason)
        self.delay = delay


class RequestEnded(Exception):
    """The request failed, timed out or finished meanwhile: nothing is left to do."""


class HandlerFailure(Exception):
    """A handler raised or broke the handler contract; the request fails with this record."""

    def __init__(self, message: str, handler: LoadedHandler | None = None,
                 trace: str | None = None):
        super().__init__(message)
        self.handler = handler
        self.trace = trace or message


def _guarded(iterable: Any, handler: LoadedHandler) -> Iterator:
    """Iterate a handler's output, turning its exceptions into HandlerFailure with traceback."""
    name = handler.definition.name
    try:
        iterator = iter(iterable)
    except TypeError:
        raise HandlerFailure(f"handler {name} returned {type(iterable).__name__}, "
                             f"not an iterable of pairs", handler) from None
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            raise HandlerFailure(f"handler {name} raised {exc.__class__.__name__}: {exc}",
                                 handler, traceback.format_exc()) from None
        yield item


def _pairs(items: Iterator, handler: LoadedHandler) -> Iterator[list]:
    for item in items:
        try:
            yield as_pair(item)
        except BadPair as exc:
            raise HandlerFailure(f"handler {handler.definition.name} {exc}", handler) from None


class Runner:
    def __init__(self, kv: KV, publisher: Publisher, libraries: dict[str, Library],
                 worker_id: str, settings, worker_alive: Callable[[str], bool]):
        self.kv = kv
        self.publisher = publisher
        self.libraries = libraries
        self.worker_id = worker_id
        self.settings = settings
        self.worker_alive = worker_alive

    # --- entry point ---------------------------------------------------------------------
    def handle(self, body: bytes, message_id: str, attempt: int) -> str:
        """Process one message; returns a word saying what happened (for logs and tests)."""
        msg = messages.decode(body)
        library = self.libraries.get(msg.workflow)
        if library is None:
            return "not-managed"
        wf, rid, iid = msg.workflow, msg.request_id, msg.invocation_id
        inv_entry, req_entry, live = protocol.read_invocation(self.kv, wf, rid, iid)
        if inv_entry is None or req_entry is None or not live:
            return "request-ended"
        request = decode(Request, req_entry.value)
        inv = decode(Invocation, inv_entry.value)
        if inv.state in FINISHED_STATES or inv.state == WAITING:
            self._propagate(library, request, inv)
            return "already-done"
        if (inv.state == RUNNING and inv.message_id != message_id and inv.worker
                and self.worker_alive(inv.worker)):
            return "running-elsewhere"  # a duplicate copy; its owner is alive and working
        inv.state, inv.worker, inv.message_id = RUNNING, self.worker_id, message_id
        inv.attempts, inv.started = inv.attempts + 1, time.time()
        claimed = protocol.start(self.kv, wf, rid, inv_entry.mod_revision, inv)

        def own() -> None:
            """Before any effect beyond the mapper's own code: is this run the one that counts?"""
            if not claimed():
                raise Retry("another copy of this message took the invocation; re-reading",
                            delay=0.05)
        out = InvocationLog()
        try:
            with capture_prints(out):
                if inv.kind == "reduce":
                    own()
                    self._reduce(library, request, inv, out, attempt)
                else:
                    self._map(library, request, inv, out, attempt, own)
        except RequestEnded:
            return "request-ended"
        except HandlerFailure as failure:
            own()
            retries = failure.handler.definition.retries if failure.handler else 0
            if attempt <= retries:
                raise Retry(f"{failure} (retry {attempt} of {retries})",
                            delay=min(2.0 ** (attempt - 1), 60.0)) from None
            self._fail(request, inv, failure, out, attempt)
            return "failed"
        return "done"

    # --- mappers -------------------------------------------------------------------------
    def _map(self, library: Library, request: Request, inv: Invocation, out: InvocationLog,
             attempt: int, own: Callable[[], None]) -> None:
        """Run the mapper while its start claim commits; `own()` waits for that claim."""
        step = self._step(library, inv.step)
        mapper = self._handler(library, step.mapper)
        inv.handler, inv.version = mapper.definition.name, mapper.definition.version
        ctx = self._context(request, inv.id, step.name, mapper, attempt, out, inv.id, True)
        arguments = cast_argument(inv.arguments or [], mapper.definition.argument_spec[0]["type"])
        items = _guarded(self._call(mapper, ctx, arguments), mapper)
        first = next(items, None)
        if isinstance(first, MapTo):
            own()
            self._fan_out(library, request, inv, first.step, _pairs(items, mapper))
        elif isinstance(first, Return):
            pairs = list(_pairs(items, mapper))
            own()
            if step.combiner:
                combiner = self._handler(library, step.combiner)
                pairs = list(_pairs(_guarded(self._call(combiner, ctx, group(pairs)), combiner),
                                    combiner))
            reducer = self._handler(library, step.reducer)
            rctx = self._context(request, inv.id, step.name, reducer, attempt, out, inv.id, False)
            output = self._run_reducer(reducer, rctx, group(pairs))
            self._complete(library, request, [self._done(inv, out)], inv.id, output)
        else:
            got = "nothing" if first is None else repr(first)[:80]
            raise HandlerFailure(f"mapper {mapper.definition.name} yielded {got} first; a "
                                 f"mapper's first yield is MapTo(step) or Return()", mapper)

    def _fan_out(self, library: Library, request: Request, inv: Invocation, target: str,
                 pairs: Iterator[list]) -> None:
        wf, rid = request.workflow, request.id
        step = library.step(target)
        if step is None:
            raise HandlerFailure(f"mapper {inv.handler} mapped to unknown step {target!r}",
                                 library.handler(inv.handler))
        child_topic = topic(wf, self._handler(library, step.mapper).definition.required_capability)
        count, batch = 0, []

        def flush() -> None:
            if not protocol.create_children(self.kv, wf, rid, batch):
                raise RequestEnded()
            self.publisher.publish_many(child_topic, [messages.encode(wf, rid, c.id)
                                                      for c in batch])
            batch.clear()

        for pair in pairs:
            batch.append(Invocation(id=child_id(inv.id, count), step=target, arguments=[pair]))
            count += 1
            # A small first batch sets the workers going while the rest are written.
            if len(batch) == (protocol.FIRST_CHILD_BATCH if count == len(batch)
                              else protocol.CHILD_BATCH):
                flush()
        if batch:
            flush()
        inv.state, inv.children = WAITING, count
        if protocol.finish_fanout(self.kv, wf, rid, inv, count).parent_ready:
            self._schedule_reduce(library, request, inv.id, inv.step)

    # --- reducers ------------------------------------------------------------------------
    def _reduce(self, library: Library, request: Request, inv: Invocation, out: InvocationLog,
                attempt: int) -> None:
        wf, rid, target = request.workflow, request.id, reduced_of(inv.id)
        step = self._step(library, inv.step)
        reducer = self._handler(library, step.reducer)
        inv.handler, inv.version = reducer.definition.name, reducer.definition.version
        merged = group(pair for blob in protocol.child_outputs(self.kv, wf, rid, target)
                       for pair in unpack(blob))
        ctx = self._context(request, inv.id, step.name, reducer, attempt, out, target, False)
        output = self._run_reducer(reducer, ctx, merged)
        entry = self.kv.get(keys.invocation(wf, rid, target))
        if entry is None:
            return  # the request was cleaned up meanwhile
        mapper = decode(Invocation, entry.value)
        self._complete(library, request, [self._done(mapper), self._done(inv, out)], target,
                       output)

    def _run_reducer(self, reducer: LoadedHandler, ctx: Context, grouped: list) -> list:
        return list(_pairs(_guarded(reducer_output(self._call(reducer, ctx, grouped)), reducer),
                           reducer))

    # --- completion ----------------------------------------------------------------------
    def _complete(self, library: Library, request: Request, finished: list[Invocation],
                  output_of: str, output: list) -> None:
        parent = parent_of(output_of)
        if parent is None:
            request.state, request.finished = DONE, time.time()
            write_result(request, output, self.settings.result_dir, self.settings.data_dir,
                         self.settings.blob_threshold_bytes)
            protocol.end_request(self.kv, request, finished, self.settings.cleanup)
            return
        try:
            packed = pack(output)
        except (TypeError, ValueError) as exc:
            raise HandlerFailure(f"output of invocation {output_of} cannot be stored: {exc}")
        if len(packed) > self.settings.blob_threshold_bytes:
            raise HandlerFailure(f"output of invocation {output_of} is {len(packed)} bytes; "
                                 f"the limit is {self.settings.blob_threshold_bytes} "
                                 f"(MR_BLOB_THRESHOLD_BYTES)")
        done = protocol.complete(self.kv, request.workflow, request.id, finished, output_of,
                                 packed)
        if done.parent_ready:
            self._schedule_reduce(library, request, parent)

    def _schedule_reduce(self, library: Library, request: Request, parent: str,
                         step_name: str | None = None, republish: bool = False) -> None:
        wf, rid = request.workflow, request.id
        if step_name is None:
            entry = self.kv.get(keys.invocation(wf, rid, parent))
            if entry is None:
                return
            step_name = decode(Invocation, entry.value).step
        reducer = self._handler(library, self._step(library, step_name).reducer)
        reduce_inv = Invocation(id=reduce_id(parent), step=step_name, kind="reduce")
        if not protocol.claim_reduce(self.kv, wf, rid, reduce_inv):
            if not republish:
                return
            entry = self.kv.get(keys.invocation(wf, rid, reduce_inv.id))
            if entry is None or decode(Invocation, entry.value).state in FINISHED_STATES:
                return
        self.publisher.publish(topic(wf, reducer.definition.required_capability),
                               messages.encode(wf, rid, reduce_inv.id))

    def _propagate(self, library: Library, request: Request, inv: Invocation) -> None:
        """A message for an invocation that already finished: make sure its effect moved on.

        The worker that finished it may have died between its commit and publishing the
        parent's reduction; etcd alone says whether that is still owed.
        """
        wf, rid = request.workflow, request.id
        if inv.state == WAITING:
            ready, parent = protocol.parent_ready(self.kv, wf, rid, inv.id), inv.id
        elif inv.state == DONE:
            mapper = reduced_of(inv.id) if inv.kind == "reduce" else inv.id
            parent = parent_of(mapper)
            ready = parent is not None and protocol.parent_ready(self.kv, wf, rid, parent)
        else:
            return
        if ready:
            self._schedule_reduce(library, request, parent, republish=True)

    def _fail(self, request: Request, inv: Invocation, failure: HandlerFailure,
              out: InvocationLog, attempt: int) -> None:
        now = time.time()
        inv.state, inv.finished, inv.error, inv.log = FAILED, now, failure.trace, out.text()
        definition = failure.handler.definition if failure.handler else None
        request.state, request.finished = FAILED, now
        request.failure = {
            "reason": "handler",
            "message": str(failure),
            "invocation": inv.id,
            "step": inv.step,
            "handler": definition.name if definition else inv.handler,
            "version": definition.version if definition else inv.version,
            "attempt": attempt,
            "worker": self.worker_id,
            "traceback": failure.trace,
            "log": out.text(),
        }
        log.info("request %s/%s failed at invocation %s: %s", request.workflow, request.id,
                 inv.id, failure)
        protocol.end_request(self.kv, request, [inv], self.settings.cleanup)

    # --- helpers -------------------------------------------------------------------------
    @staticmethod
    def _done(inv: Invocation, out: InvocationLog | None = None) -> Invocation:
        """Mark done; `out` is what this run logged, kept with the invocation when not empty."""
        inv.state, inv.finished = DONE, time.time()
        if out is not None:
            inv.log = out.text() or None
        return inv

    @staticmethod
    def _step(library: Library, name: str):
        step = library.step(name)
        if step is None:
            raise HandlerFailure(f"step {name!r} does not exist in workflow {library.workflow}")
        return step

    @staticmethod
    def _handler(library: Library, name: str) -> LoadedHandler:
        loaded = library.handler(name)
        if loaded is None:
            raise HandlerFailure(f"handler {name!r} does not exist in workflow "
                                 f"{library.workflow}")
        if loaded.function is None:
            raise HandlerFailure(f"handler {name} (version {loaded.definition.version}) does not "
                                 f"load on this worker: {loaded.error}", loaded)
        return loaded

    @staticmethod
    def _call(handler: LoadedHandler, ctx: Context, argument: Any) -> Any:
        try:
            return handler.function(ctx, argument)
        except Exception as exc:
            raise HandlerFailure(f"handler {handler.definition.name} raised "
                                 f"{exc.__class__.__name__}: {exc}", handler,
                                 traceback.format_exc()) from None

    def _context(self, request: Request, iid: str, step: str, handler: LoadedHandler,
                 attempt: int, out: InvocationLog, session_of: str, writable: bool) -> Context:
        session = Session(self.kv, request.workflow, request.id, session_of, writable)
        return Context(workflow=request.workflow, request_id=request.id, invocation_id=iid,
                       step=step, handler=handler.definition.name,
                       version=handler.definition.version, attempt=attempt, session=session,
                       log=out)
