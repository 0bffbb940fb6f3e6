"""A data step's invocations (DESIGN.md §3b): files carry the data, etcd only references.

A data step is a job's initial step whose mapper reads input records (metadata `input`). Its
invocation tree, for N splits and R partitions:

    0        the engine cuts the job's input files into splits: children 0.0 … 0.{N-1}
    0.i      the user's mapper over one split's records, its combiner, then the partitioned,
             sorted run files of this attempt (mr.data.shuffle)
    0.r      the step's reduction: one PARTITION invocation per partition, 0.r.0 … 0.r.{R-1}
    0.r.p    a k-way merge of every split's run p, through the user's reducer, into one part
             file (mr.data.parts)
    0.r.r    gathers the parts into a manifest: the request's result

A map-only step (no reducer; partitions 0 in its invocations) shuffles nothing: split 0.i
writes its pairs, in the order its mapper gave them, as part i of the result, and 0.r gathers
the parts, so the result keeps the input's order.

Every file reference reaches etcd in the transaction that marks its invocation done, and
only the first such transaction per invocation commits (protocol.complete), so the files of
a dead or duplicate attempt are never read; the losing attempt deletes its own files, and the
request's shuffle directory goes with the request. The work of a split or a partition
(mr.engine.data_work) runs in a fresh process of its own (mr.engine.data_process), and etcd
hears of it only when it is done, unless it runs long (mr.engine.claiming).
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from mr.config import Settings
from mr.data import parts, splits
from mr.data.input_files import InputError
from mr.engine import blobs, data_work, faults, lookup, protocol
from mr.engine.calls import InputFailure
from mr.engine.completion import Completion, done
from mr.engine.context import Context, InvocationLog
from mr.engine.data_process import DataProcesses, DataTask
from mr.engine.pairs import cast_argument
from mr.engine.results import write_parts_result
from mr.engine.timelimit import TimeLimit
from mr.fs import WorkflowFS
from mr.handlers.library import Library, LoadedHandler
from mr.kv import keys
from mr.kv.models import (
    DONE,
    PARTITION,
    REDUCE,
    Invocation,
    Request,
    Step,
    child_id,
    decode,
    reduced_of,
)
from mr.kv.store import Store
from mr.queue.topics import topic

MAX_SPLITS = 100_000     # each is an invocation: a split size of a few bytes is a mistake

Claim = tuple[float, Callable[[], None]]   # (seconds, claim): claim a run still going then


class Runner(Protocol):
    """What the data steps use of the worker's runner: mr.engine.runner.Runner, which makes
    them, named here by what it offers so that this module need not import mr.engine.runner
    (an import cycle)."""

    @property
    def kv(self) -> Store: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def completion(self) -> Completion: ...

    def workflow_fs(self, workflow: str) -> WorkflowFS: ...

    def spawn(self, library: Library, request: Request, inv: Invocation,
              children: Iterable[Invocation], child_topic: str, out: InvocationLog, *,
              first_batch: int = ...) -> None: ...

    def limited(self, handler: LoadedHandler, request: Request, inv: Invocation,
                out: InvocationLog, attempt: int) -> AbstractContextManager[TimeLimit]: ...

    def context(self, request: Request, iid: str, step: str, handler: LoadedHandler,
                attempt: int, out: InvocationLog, session_of: str, writable: bool,
                limit: TimeLimit) -> Context: ...


class DataSteps:
    def __init__(self, runner: Runner):
        self.runner = runner
        self.processes = (DataProcesses() if runner.settings.data_isolation == "process"
                          else None)
        if self.processes is not None:
            threading.Thread(target=self.processes.warm, name="data-processes",
                             daemon=True).start()

    # --- maps ----------------------------------------------------------------------------
    def map(self, library: Library, request: Request, inv: Invocation, step: Step,
            mapper: LoadedHandler, out: InvocationLog, attempt: int,
            own: Callable[[], None], claim: Claim | None = None) -> None:
        """The step's root cuts its inputs into splits; each split runs the user's mapper."""
        if inv.split is None:
            own()
            self._split(library, request, inv, step, mapper, out)
        else:
            self._map_split(library, request, inv, step, mapper, out, attempt, own, claim)

    def _split(self, library: Library, request: Request, inv: Invocation, step: Step,
               mapper: LoadedHandler, out: InvocationLog) -> None:
        wfs = self.runner.workflow_fs(request.workflow)
        arguments = cast_argument(blobs.load_arguments(wfs, inv.arguments), "dict")
        names = arguments.get("inputs")
        if not names:
            raise InputFailure(f"job {request.job} reads input files but names none: give "
                               f"\"inputs\" in the POST body, or in the job "
                               f"(mr_kv_job_create --input)", mapper)
        size = arguments.get("split_bytes") or self.runner.settings.split_bytes
        try:
            cut = splits.make_splits(wfs, names, size,
                                     allow_urls=arguments.get("allow_urls") is True)
        except InputError as exc:
            raise InputFailure(f"input of job {request.job}: {exc}", mapper) from None
        if len(cut) > MAX_SPLITS:
            raise InputFailure(f"input of job {request.job} makes {len(cut)} splits of "
                               f"{size} bytes, more than {MAX_SPLITS}: give a bigger "
                               f"split_bytes", mapper)
        data_work.partitioner(step)  # one that does not import fails here, not per split
        inv.partitions = (step.partitions or 1) if step.reducer else 0
        children = (Invocation(id=child_id(inv.id, index), step=step.name,
                               split=split.to_record(), partitions=inv.partitions)
                    for index, split in enumerate(cut))
        # Full batches from the first: a split runs for seconds, so starting a few early gains
        # nothing, and up to 128 splits cost one etcd write to create.
        self.runner.spawn(library, request, inv, children,
                          topic(request.workflow, mapper.definition.required_capability, True),
                          out, first_batch=protocol.CHILD_BATCH)

    def _map_split(self, library: Library, request: Request, inv: Invocation, step: Step,
                   mapper: LoadedHandler, out: InvocationLog, attempt: int,
                   own: Callable[[], None], claim: Claim | None) -> None:
        handlers = {"mapper": mapper}
        if step.combiner:
            handlers["combiner"] = lookup.handler(library, step, "combiner")
        ref = self._run(library, request, inv, step, handlers, out, attempt, claim)
        wfs = self.runner.workflow_fs(request.workflow)
        field = "path" if inv.map_only else "dir"   # its part of the result, or its runs
        try:
            own()
        except BaseException:
            wfs.delete(ref[field])   # another run owns the split: these files are unread
            raise
        if not self.runner.completion.complete(library, request, [done(inv, out)], inv.id,
                                    ref):
            self._discard_unless_stored(request, inv, ref, field)

    def _run(self, library: Library, request: Request, inv: Invocation, step: Step,
             handlers: dict[str, LoadedHandler], out: InvocationLog, attempt: int,
             claim: Claim | None, refs: list[dict] | None = None, mapped: str = "") -> dict:
        """The invocation's work (mr.engine.data_work), in a process of its own or here."""
        if self.processes is not None:
            scope = getattr(library.scope, "path", None)
            task = DataTask(self.runner.settings, request.workflow, request.id, step, inv,
                            attempt, {role: h.definition for role, h in handlers.items()},
                            scope, refs or [], mapped)
            return self.processes.run(task, handlers, out, claim, self._ended(request))
        env = _RunnerEnv(self.runner, request, inv, step.name, out, attempt)
        with _claiming(claim):
            if inv.split is not None:
                return data_work.map_split(env, request.id, inv, handlers["mapper"],
                                           handlers.get("combiner"),
                                           data_work.partitioner(step))
            return data_work.reduce_partition(env, request.id, inv, handlers["reducer"],
                                              refs or [], mapped)

    def _ended(self, request: Request) -> Callable[[], bool]:
        """Whether `request` has ended; an etcd outage says no (the commit decides later)."""
        kv, wf, rid = self.runner.kv, request.workflow, request.id

        def ended() -> bool:
            try:
                return not protocol.request_live(kv, wf, rid)
            except Exception as exc:
                if faults.transient(exc):
                    return False
                raise
        return ended

    # --- reductions ----------------------------------------------------------------------
    def partition(self, library: Library, request: Request, inv: Invocation, step: Step,
                  reducer: LoadedHandler, mapper: Invocation, out: InvocationLog) -> None:
        """The step's reduction fans out to one reducer per partition, run in parallel."""
        partitions = mapper.partitions
        assert partitions is not None   # the runner comes here for a data step's mapper only
        children = (Invocation(id=child_id(inv.id, index), step=step.name, kind=PARTITION,
                               partition=index) for index in range(partitions))
        self.runner.spawn(library, request, inv, children,
                          topic(request.workflow, reducer.definition.required_capability, True),
                          out, first_batch=protocol.CHILD_BATCH)

    def reduce_partition(self, library: Library, request: Request, inv: Invocation,
                         out: InvocationLog, attempt: int, claim: Claim | None = None) -> None:
        """Merge partition p of every split's runs through the reducer into one part file."""
        runner, wf, rid = self.runner, request.workflow, request.id
        step = lookup.step(library, inv.step)
        reducer = lookup.handler(library, step, "reducer")
        inv.handler, inv.version = reducer.definition.name, reducer.definition.version
        reduction = inv.parent
        assert reduction is not None   # a partition is a child of its step's reduction
        mapped = reduced_of(reduction)
        wfs = runner.workflow_fs(wf)
        refs = [blobs.load_output(wfs, stored)   # in split order: so come a key's values
                for stored in protocol.child_outputs_in_order(runner.kv, wf, rid, mapped)]
        part = self._run(library, request, inv, step, {"reducer": reducer}, out, attempt,
                         claim, refs, mapped)
        if not runner.completion.complete(library, request, [done(inv, out)], inv.id, part):
            self._discard_unless_stored(request, inv, part, "path")

    def _discard_unless_stored(self, request: Request, inv: Invocation, ref: dict,
                               field: str) -> None:
        """After a completion that did not commit: delete this attempt's files, unless etcd
        holds their reference after all (our own commit whose reply was lost, the client
        retried and met it); those are the files the request reads."""
        wf, rid = request.workflow, request.id
        wfs = self.runner.workflow_fs(wf)
        entry = self.runner.kv.get(keys.output(wf, rid, inv.parent, inv.id))
        stored = blobs.load_output(wfs, entry.value) if entry is not None else None
        if isinstance(stored, dict) and stored.get(field) == ref[field]:
            return
        wfs.delete(ref[field])   # a duplicate's output was stored first (or the request ended)

    def gather(self, request: Request, stage: Invocation, inv: Invocation,
               out: InvocationLog) -> None:
        """Every part is written: their manifest is the request's result. `stage`'s children
        wrote them: the partitions of the step's reduction, or a map-only step's splits (then
        `stage` is the step's root)."""
        runner, wf, rid = self.runner, request.workflow, request.id
        wfs = runner.workflow_fs(wf)
        found = [blobs.load_output(wfs, stored)
                 for stored in protocol.child_outputs(runner.kv, wf, rid, stage.id)]
        finished = [stage]
        if stage.kind == REDUCE:
            entry = runner.kv.get(keys.invocation(wf, rid, reduced_of(stage.id)))
            if entry is None:
                return  # the request was cleaned up meanwhile
            finished.insert(0, decode(Invocation, entry.value))
        manifest_path = parts.write_manifest(wfs, rid, request.job, found)
        request.state, request.finished = DONE, time.time()
        write_parts_result(request, wfs, manifest_path, runner.settings.blob_threshold_bytes)
        runner.completion.end(request, [done(each) for each in finished] + [done(inv, out)])



class _RunnerEnv:
    """data_work's Env in the worker's own thread: the runner's time limits and contexts."""

    def __init__(self, runner: Runner, request: Request, inv: Invocation, step: str,
                 out: InvocationLog, attempt: int):
        self.runner, self.request, self.inv, self.step = runner, request, inv, step
        self.out, self.attempt = out, attempt
        self.fs = runner.workflow_fs(request.workflow)

    def limited(self, handler: LoadedHandler) -> AbstractContextManager[TimeLimit]:
        return self.runner.limited(handler, self.request, self.inv, self.out, self.attempt)

    def context(self, handler: LoadedHandler, session_of: str, writable: bool,
                limit: TimeLimit) -> Context:
        return self.runner.context(self.request, self.inv.id, self.step, handler,
                                   self.attempt, self.out, session_of, writable, limit)


@contextlib.contextmanager
def _claiming(claim: Claim | None) -> Iterator[None]:
    """Call the claim if the run is still going after its seconds."""
    if claim is None:
        yield
        return
    timer = threading.Timer(*claim)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
