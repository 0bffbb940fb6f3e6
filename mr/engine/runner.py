"""Run one invocation named by a message: the state machine of DESIGN.md §3, steps 3-5.

Runner.handle() returns normally when the message may be FINished (its outcome is durable in
etcd, or there is nothing left to do) and raises Retry when it must come back later. Handler
errors are outcomes, not retries: they fail the request (after the handler's own `retries`),
as does an engine error that is no outage, after MR_ENGINE_ERROR_ATTEMPTS (mr.engine.faults).
Each handler runs under its time limit (mr.engine.timelimit); outputs too large for etcd go
to the workflow's shared filesystem (mr.engine.blobs); storing outputs, scheduling
reductions, failing and ending requests is mr.engine.completion's.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from mr import fs, metrics
from mr.config import Settings
from mr.engine import blobs, faults, lookup, protocol
from mr.engine.calls import HandlerFailure, call, guarded, pairs
from mr.engine.claiming import Claimer, Run, Skip, claim_after_s
from mr.engine.completion import Completion, done
from mr.engine.context import Context, InvocationLog, Session, capture_prints
from mr.engine.data_steps import DataSteps
from mr.engine.live_logs import LiveLogs
from mr.engine.outcome import Outcome, RequestEnded
from mr.engine.pairs import cast_argument, group, reducer_output
from mr.engine.results import writes_file
from mr.engine.timelimit import TimeLimit, Watchdog, time_limit_failure
from mr.handlers.api import MapTo, Return
from mr.handlers.library import Library, LoadedHandler
from mr.kv import keys
from mr.kv.models import (
    PARTITION,
    REDUCE,
    WAITING,
    Invocation,
    Request,
    Step,
    child_id,
    decode,
    reduced_of,
)
from mr.kv.store import Store
from mr.notify import Notifier
from mr.queue import messages
from mr.queue.publisher import Publisher
from mr.queue.topics import topic

log = logging.getLogger(__name__)


class Retry(Exception):
    """Put the message back (REQ) and try again after `delay` seconds."""

    def __init__(self, reason: str, delay: float = 1.0):
        super().__init__(reason)
        self.delay = delay


class Runner:
    def __init__(self, kv: Store, publisher: Publisher, libraries: dict[str, Library],
                 worker_id: str, settings: Settings, worker_alive: Callable[[str], bool],
                 notifier: Notifier | None = None):
        self.kv = kv
        self.publisher = publisher
        self.libraries = libraries
        self.worker_id = worker_id
        self.settings = settings
        self.notifier = notifier or Notifier.from_settings(settings)
        self.watchdog = Watchdog()
        self.claimer = Claimer(kv, worker_id, worker_alive, self._handler_of)
        self.live_logs = LiveLogs(kv)
        self._fs: dict[str, fs.WorkflowFS] = {}
        self.completion = Completion(kv, publisher, settings, self.notifier, worker_id,
                                     self.workflow_fs)
        self.data = DataSteps(self)

    def workflow_fs(self, workflow: str) -> fs.WorkflowFS:
        """The workflow's shared filesystem (one object per workflow and process)."""
        found = self._fs.get(workflow)
        if found is None:
            found = self._fs[workflow] = fs.workflow_fs(self.settings, workflow)
        return found

    def _handler_of(self, workflow: str, inv: Invocation) -> tuple[str | None, str | None]:
        """The handler an invocation will run, as its step names it now (None, None when the
        step or handler is missing: running it then says so)."""
        library = self.libraries.get(workflow)
        if library is None:
            return None, None
        name, loaded = lookup.named_handler(library, inv)
        return name, loaded.definition.version if loaded else None

    # --- entry point ---------------------------------------------------------------------
    def handle(self, body: bytes, message_id: str, attempt: int) -> Outcome:
        """Process one message; what happened to it."""
        msg = messages.decode(body)
        library = self.libraries.get(msg.workflow)
        if library is None:
            return Outcome.NOT_MANAGED
        taken: Run | Skip | None = None
        out = InvocationLog()
        try:
            taken = self.claimer.take(msg, message_id)
            if isinstance(taken, Run):
                return self._invoke(library, taken, out, attempt)
            if (taken.outcome == Outcome.ALREADY_DONE and taken.request is not None
                    and taken.inv is not None):
                self.completion.propagate(library, taken.request, taken.inv)
            return taken.outcome
        except Retry:
            raise
        except Exception as exc:
            if faults.transient(exc):
                raise
            return self._engine_error(msg, taken, out, exc, attempt)

    def _invoke(self, library: Library, taken: Run, out: InvocationLog,
                attempt: int) -> Outcome:
        request, inv, wf = taken.request, taken.inv, taken.request.workflow

        def own() -> None:
            """Before any effect beyond the mapper's own code: is this run the one that counts?"""
            if not taken.owned():
                raise Retry("another copy of this message took the invocation; re-reading",
                            delay=0.05)
        claim = ((claim_after_s(self.settings, inv.data_plane), taken.claim) if taken.claim
                 else None)
        began = time.monotonic()
        log_key = self.live_logs.follow(wf, request.id, inv.id, attempt, out)
        try:
            with capture_prints(out):
                if inv.kind == PARTITION:
                    own()
                    self.data.reduce_partition(library, request, inv, out, attempt, claim)
                elif inv.kind == REDUCE:
                    own()
                    self._reduce(library, request, inv, out, attempt)
                else:
                    self._map(library, request, inv, out, attempt, own, claim, taken.finish)
        except RequestEnded:
            return Outcome.REQUEST_ENDED
        except HandlerFailure as failure:
            own()
            retries = failure.handler.definition.retries if failure.handler else 0
            if attempt <= retries and not failure.final:
                # the record's log will be the last attempt's: this one's is kept apart
                self.live_logs.keep(log_key,
                                    out.text() + f"(attempt {attempt} failed: {failure})\n")
                raise Retry(f"{failure} (retry {attempt} of {retries})",
                            delay=min(2.0 ** (attempt - 1), 60.0)) from None
            self.completion.fail(request, inv, failure, out, attempt)
            return Outcome.FAILED
        finally:
            taken.release()
            self.live_logs.forget(log_key)
            metrics.HANDLER_SECONDS.labels(wf, inv.step, inv.handler or "-").observe(
                time.monotonic() - began)
        return Outcome.DONE

    def _engine_error(self, msg: messages.InvocationMessage, taken: Run | Skip | None,
                      out: InvocationLog, exc: Exception, attempt: int) -> Outcome:
        """A bug or corrupt data: the message comes back (its traceback logged) until delivery
        MR_ENGINE_ERROR_ATTEMPTS, which fails the request with reason "engine"."""
        where = f"{msg.workflow}/{msg.request_id} invocation {msg.invocation_id}"
        limit = self.settings.engine_error_attempts
        if attempt < limit:
            log.error("engine error in %s at delivery %d (its request fails at delivery %d, "
                      "MR_ENGINE_ERROR_ATTEMPTS)", where, attempt, limit, exc_info=exc)
            raise Retry(f"engine error {faults.describe(exc)}",
                        delay=min(float(attempt), 30.0)) from exc
        log.error("engine error in %s at delivery %d: failing its request", where, attempt,
                  exc_info=exc)
        failure = faults.EngineFailure(msg.invocation_id, exc, attempt)
        if isinstance(taken, Run):
            if not taken.owned():  # the copy that owns it meets the same error
                raise Retry("another copy of this message took the invocation", delay=0.05)
            self.completion.fail(taken.request, taken.inv, failure, out, attempt)
            return Outcome.FAILED
        at = faults.failed_at(self.kv, msg, taken)  # no run: from what etcd holds
        if at is None:
            return Outcome.REQUEST_ENDED
        self.completion.fail(at[0], at[1], failure, out, attempt, mark=at[2])
        return Outcome.FAILED

    # --- mappers -------------------------------------------------------------------------
    def _map(self, library: Library, request: Request, inv: Invocation, out: InvocationLog,
             attempt: int, own: Callable[[], None],
             claim: tuple[float, Callable[[], None]] | None,
             finish: Callable[[], protocol.Unclaimed | None]) -> None:
        """Run the mapper; `claim` is called if it still runs after a while. A leaf still
        unclaimed then commits its claim with its outcome (mr.engine.claiming); a claimed one
        waits for its claim first (`own()`)."""
        step = lookup.step(library, inv.step)
        mapper = lookup.handler(library, step, "mapper")
        inv.handler, inv.version = mapper.definition.name, mapper.definition.version
        if mapper.definition.input_format:
            self.data.map(library, request, inv, step, mapper, out, attempt, own, claim)
            return
        with self.watchdog.after(claim):
            output = self._leaf(library, request, inv, step, mapper, out, attempt, own)
            if output is None:
                return  # it fanned out
            if inv.parent is None and writes_file(request, output,
                                                  self.settings.blob_threshold_bytes):
                own()  # a result file has one name per request: the owner's run writes it
            unclaimed = finish()
        if unclaimed is None:
            own()
        self.completion.complete(library, request, [done(inv, out)], inv.id, output,
                                 unclaimed)

    def _leaf(self, library: Library, request: Request, inv: Invocation, step: Step,
              mapper: LoadedHandler, out: InvocationLog, attempt: int,
              own: Callable[[], None]) -> list | None:
        """The mapper's output through the step's combiner and reducer; None if it fanned
        out instead (its children are made, it waits for them)."""
        stored = blobs.load_arguments(self.workflow_fs(request.workflow), inv.arguments)
        arguments = cast_argument(stored, mapper.definition.argument_spec[0]["type"])
        with self.limited(mapper, request, inv, out, attempt) as limit:
            ctx = self.context(request, inv.id, step.name, mapper, attempt, out, inv.id, True,
                                limit)
            items = guarded(call(mapper, ctx, arguments), mapper, limit)
            first = next(items, None)
            if isinstance(first, MapTo):
                own()
                self._fan_out(library, request, inv, mapper, first.step, pairs(items, mapper),
                              out)
                return None
            if not isinstance(first, Return):
                got = "nothing" if first is None else repr(first)[:80]
                raise HandlerFailure(f"mapper {mapper.definition.name} yielded {got} first; a "
                                     f"mapper's first yield is MapTo(step) or Return()", mapper)
            output = list(pairs(items, mapper))
        if step.combiner:
            combiner = lookup.handler(library, step, "combiner")
            output = self.run_handler(combiner, request, inv, step.name, out, attempt, inv.id,
                                      True, group(output), reducer_output)
        reducer = lookup.handler(library, step, "reducer")
        return self.run_handler(reducer, request, inv, step.name, out, attempt, inv.id,
                                False, group(output), reducer_output)

    def _fan_out(self, library: Library, request: Request, inv: Invocation,
                 mapper: LoadedHandler, target: str, children: Iterator[list],
                 out: InvocationLog) -> None:
        """`inv` ran `mapper`, which mapped to step `target`: its `children`, one per pair."""
        name = mapper.definition.name
        step = library.step(target)
        if step is None:
            raise HandlerFailure(f"mapper {name} mapped to unknown step {target!r}", mapper)
        if inv.id.count(".") + 1 > self.settings.max_depth:
            raise HandlerFailure(f"mapper {name} would nest invocations deeper than "
                                 f"{self.settings.max_depth} levels (MR_MAX_DEPTH): does the "
                                 f"step graph loop back to {target!r}?", mapper)
        child_mapper = lookup.handler(library, step, "mapper")
        if child_mapper.definition.input_format:
            raise HandlerFailure(f"mapper {name} mapped to step {target!r}, a data step "
                                 f"(its mapper reads input files): a data step is a job's "
                                 f"initial step", mapper)
        wfs, threshold = self.workflow_fs(request.workflow), self.settings.blob_threshold_bytes

        def child(index: int, pair: list) -> Invocation:
            iid = child_id(inv.id, index)
            return Invocation(id=iid, step=target, arguments=blobs.store_arguments(
                wfs, request.id, iid, [pair], threshold))
        self.spawn(library, request, inv, (child(n, pair) for n, pair in enumerate(children)),
                   topic(request.workflow, child_mapper.definition.required_capability), out)

    def spawn(self, library: Library, request: Request, inv: Invocation,
              children: Iterable[Invocation], child_topic: str, out: InvocationLog, *,
              first_batch: int = protocol.FIRST_CHILD_BATCH) -> None:
        """Create and publish `inv`'s children in batches, then make `inv` wait for them."""
        wf, rid = request.workflow, request.id
        count = 0
        batch: list[Invocation] = []

        def flush() -> None:
            created = protocol.create_children(self.kv, wf, rid, batch)
            if created is None:
                raise RequestEnded()
            self.publisher.publish_many(child_topic, [
                messages.encode(wf, rid, child.id, revision, record)
                for child, (record, revision) in zip(batch, created)])
            batch.clear()

        for child in children:
            batch.append(child)
            count += 1
            # A small first batch sets the workers going while the rest are written.
            if len(batch) == (first_batch if count == len(batch) else protocol.CHILD_BATCH):
                flush()
        if batch:
            flush()
        inv.state, inv.children = WAITING, count
        out.keep_in(inv)
        if protocol.finish_fanout(self.kv, wf, rid, inv, count).parent_ready:
            self.completion.schedule_reduce(library, request, inv.id, inv.step)

    # --- reducers ------------------------------------------------------------------------
    def _reduce(self, library: Library, request: Request, inv: Invocation, out: InvocationLog,
                attempt: int) -> None:
        wf, rid, target = request.workflow, request.id, reduced_of(inv.id)
        step = lookup.step(library, inv.step)
        entry = self.kv.get(keys.invocation(wf, rid, target))
        if entry is None:
            return  # the request was cleaned up meanwhile
        mapper = decode(Invocation, entry.value)
        if mapper.map_only:  # its splits wrote the parts
            self.data.gather(request, mapper, inv, out)
            return
        reducer = lookup.handler(library, step, "reducer")
        inv.handler, inv.version = reducer.definition.name, reducer.definition.version
        if mapper.partitions is not None:  # a data step: one reducer per partition
            self.data.partition(library, request, inv, step, reducer, mapper, out)
            return
        if mapper.kind == REDUCE:  # a data step's partitions are reduced: their parts
            self.data.gather(request, mapper, inv, out)
            return
        wfs = self.workflow_fs(wf)
        merged = group(pair for stored in protocol.child_outputs(self.kv, wf, rid, target)
                       for pair in blobs.load_output(wfs, stored))
        output = self.run_handler(reducer, request, inv, step.name, out, attempt, target,
                                  False, merged, reducer_output)
        self.completion.complete(library, request, [done(mapper), done(inv, out)], target,
                       output)

    def run_handler(self, handler: LoadedHandler, request: Request, inv: Invocation, step: str,
                    out: InvocationLog, attempt: int, session_of: str, writable: bool,
                    argument: Any, shape: Callable[[Any], Any]) -> list:
        """Run a combiner or reducer to the end under its time limit; its pairs."""
        with self.limited(handler, request, inv, out, attempt) as limit:
            ctx = self.context(request, inv.id, step, handler, attempt, out, session_of,
                                writable, limit)
            return list(pairs(guarded(shape(call(handler, ctx, argument)), handler, limit),
                              handler))

    @contextlib.contextmanager
    def limited(self, handler: LoadedHandler, request: Request, inv: Invocation,
                 out: InvocationLog, attempt: int) -> Iterator[TimeLimit]:
        """The handler's time limit: at expiry the watchdog fails the request at once."""
        seconds = handler.time_limit_s
        failure = time_limit_failure(handler, inv.id)

        def expire() -> None:
            log.warning("%s/%s: %s", request.workflow, request.id, failure())
            self.completion.fail(copy.deepcopy(request), copy.deepcopy(inv), failure(), out,
                                 attempt)

        limit = self.watchdog.limit(seconds, failure, expire if seconds else None)
        try:
            yield limit
            limit.check()  # finished, but after the limit: the watchdog has failed it
        finally:
            self.watchdog.done(limit)

    # --- helpers -------------------------------------------------------------------------
    def context(self, request: Request, iid: str, step: str, handler: LoadedHandler,
                 attempt: int, out: InvocationLog, session_of: str, writable: bool,
                 limit: TimeLimit) -> Context:
        session = Session(self.kv, request.workflow, request.id, session_of, writable)
        return Context(workflow=request.workflow, request_id=request.id, invocation_id=iid,
                       step=step, handler=handler.definition.name,
                       version=handler.definition.version, attempt=attempt, session=session,
                       log=out, fs=self.workflow_fs(request.workflow), notifier=self.notifier,
                       time_limit=limit)
