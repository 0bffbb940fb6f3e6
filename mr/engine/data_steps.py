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

Every file reference reaches etcd in the transaction that marks its invocation done, and
only the first such transaction per invocation commits (protocol.complete), so the files of
a dead or duplicate attempt are never read; the losing attempt deletes its own files, and the
request's shuffle directory goes with the request.
"""
from __future__ import annotations

import errno
import importlib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from mr.data import inputs, parts, shuffle
from mr.engine import blobs, lookup, protocol
from mr.engine.calls import (HandlerFailure, InputFailure, StorageFailure, call, guarded,
                             pairs)
from mr.engine.context import InvocationLog
from mr.engine.pairs import cast_argument, group, reducer_output
from mr.engine.results import write_parts_result
from mr.handlers.api import MapTo, Return
from mr.handlers.library import Library, LoadedHandler
from mr.kv import keys
from mr.kv.models import DONE, PARTITION, Invocation, Request, Step, child_id, decode, reduced_of
from mr.queue.topics import topic

if TYPE_CHECKING:
    from mr.engine.runner import Runner

MAX_SPLITS = 100_000     # each is an invocation: a split size of a few bytes is a mistake
CHUNK_PAIRS = 100_000   # pairs a mapper hands on at once (to its combiner, or the run files)
FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


class DataSteps:
    def __init__(self, runner: "Runner"):
        self.runner = runner
        self._partitioners: dict[str, Callable[[Any, int], int]] = {}

    # --- maps ----------------------------------------------------------------------------
    def map(self, library: Library, request: Request, inv: Invocation, step: Step,
            mapper: LoadedHandler, out: InvocationLog, attempt: int,
            own: Callable[[], None]) -> None:
        """The step's root cuts its inputs into splits; each split runs the user's mapper."""
        if inv.split is None:
            own()
            self._split(library, request, inv, step, mapper, out)
        else:
            self._map_split(library, request, inv, step, mapper, out, attempt, own)

    def _split(self, library: Library, request: Request, inv: Invocation, step: Step,
               mapper: LoadedHandler, out: InvocationLog) -> None:
        arguments = cast_argument(inv.arguments or [], "dict")
        names = arguments.get("inputs")
        if not names:
            raise InputFailure(f"job {request.job} reads input files but names none: give "
                               f"\"inputs\" in the POST body, or in the job "
                               f"(mr_kv_job_create --input)", mapper)
        size = arguments.get("split_bytes") or self.runner.settings.split_bytes
        try:
            splits = inputs.make_splits(self.runner.workflow_fs(request.workflow), names, size,
                                        allow_urls=arguments.get("allow_urls") is True)
        except inputs.InputError as exc:
            raise InputFailure(f"input of job {request.job}: {exc}", mapper) from None
        if len(splits) > MAX_SPLITS:
            raise InputFailure(f"input of job {request.job} makes {len(splits)} splits of "
                               f"{size} bytes, more than {MAX_SPLITS}: give a bigger "
                               f"split_bytes", mapper)
        self.partitioner(step)  # a partitioner that does not import fails here, not per split
        inv.partitions = step.partitions or 1
        children = (Invocation(id=child_id(inv.id, index), step=step.name,
                               split=split.to_record(), partitions=inv.partitions)
                    for index, split in enumerate(splits))
        self.runner.spawn(library, request, inv, children,
                          topic(request.workflow, mapper.definition.required_capability, True),
                          out)

    def _map_split(self, library: Library, request: Request, inv: Invocation, step: Step,
                   mapper: LoadedHandler, out: InvocationLog, attempt: int,
                   own: Callable[[], None]) -> None:
        runner, wfs = self.runner, self.runner.workflow_fs(request.workflow)
        try:
            split = inputs.Split.from_record(inv.split)
        except inputs.InputError as exc:
            raise InputFailure(f"invocation {inv.id}: {exc}", mapper) from None
        combine = self._combiner(library, request, inv, step, out, attempt)
        writer = shuffle.RunWriter(wfs, request.id, inv.id, inv.partitions or 1,
                                   self.partitioner(step))
        try:
            with runner.limited(mapper, request, inv, out, attempt) as limit:
                ctx = runner.context(request, inv.id, step.name, mapper, attempt, out, inv.id,
                                     True, limit)
                produced = call(mapper, ctx, inputs.read_records(wfs, split,
                                                                 mapper.definition.input_format))
                if isinstance(produced, Mapping) and not combine:   # keys already unique
                    _shuffled(writer.add_mapping, produced, mapper)
                else:
                    for chunk in _chunks(produced, mapper, limit):
                        _shuffled(writer.add_many, combine(chunk) if combine else chunk,
                                  mapper)
            own()
            ref = _shuffled(writer.commit, None, mapper)
        except BaseException:
            writer.abort()
            raise
        if not runner.complete(library, request, [runner.done(inv, out)], inv.id, ref):
            wfs.delete(ref["dir"])  # a duplicate's output was stored first: this is unread

    def _combiner(self, library: Library, request: Request, inv: Invocation, step: Step,
                  out: InvocationLog, attempt: int) -> Callable[[list], list] | None:
        """The step's combiner over one chunk of a split's pairs (it may run on each chunk,
        as Hadoop's may run on each spill: a combiner must not care how values are cut)."""
        if not step.combiner:
            return None
        combiner = lookup.handler(library, step, "combiner")
        return lambda chunk: self.runner.run_handler(
            combiner, request, inv, step.name, out, attempt, inv.id, True, group(chunk),
            reducer_output)

    # --- reductions ----------------------------------------------------------------------
    def partition(self, library: Library, request: Request, inv: Invocation, step: Step,
                  reducer: LoadedHandler, mapper: Invocation, out: InvocationLog) -> None:
        """The step's reduction fans out to one reducer per partition, run in parallel."""
        children = (Invocation(id=child_id(inv.id, index), step=step.name, kind=PARTITION,
                               partition=index) for index in range(mapper.partitions))
        self.runner.spawn(library, request, inv, children,
                          topic(request.workflow, reducer.definition.required_capability, True),
                          out)

    def reduce_partition(self, library: Library, request: Request, inv: Invocation,
                         out: InvocationLog, attempt: int) -> None:
        """Merge partition p of every split's runs through the reducer into one part file."""
        runner, wf, rid = self.runner, request.workflow, request.id
        step = lookup.step(library, inv.step)
        reducer = lookup.handler(library, step, "reducer")
        inv.handler, inv.version = reducer.definition.name, reducer.definition.version
        mapped = reduced_of(inv.parent)
        wfs = runner.workflow_fs(wf)
        refs = [blobs.load_output(wfs, stored)
                for stored in protocol.child_outputs(runner.kv, wf, rid, mapped)]
        writer = parts.PartWriter(wfs, rid, inv.partition)
        try:
            with runner.limited(reducer, request, inv, out, attempt) as limit:
                ctx = runner.context(request, inv.id, step.name, reducer, attempt, out, mapped,
                                     False, limit)
                produced = call(reducer, ctx, shuffle.merge(wfs, refs, inv.partition))
                for chunk in _chunks(reducer_output(produced), reducer, limit):
                    _written(writer.write_many, chunk, reducer)
            part = _written(writer.commit, None, reducer)
        except BaseException:
            writer.abort()
            raise
        if not runner.complete(library, request, [runner.done(inv, out)], inv.id, part):
            wfs.delete(part["path"])

    def gather(self, request: Request, stage: Invocation, inv: Invocation,
               out: InvocationLog) -> None:
        """Every partition is reduced: their parts, in a manifest, are the request's result."""
        runner, wf, rid = self.runner, request.workflow, request.id
        wfs = runner.workflow_fs(wf)
        found = [blobs.load_output(wfs, stored)
                 for stored in protocol.child_outputs(runner.kv, wf, rid, stage.id)]
        entry = runner.kv.get(keys.invocation(wf, rid, reduced_of(stage.id)))
        if entry is None:
            return  # the request was cleaned up meanwhile
        manifest_path = parts.write_manifest(wfs, rid, request.job, found)
        request.state, request.finished = DONE, time.time()
        write_parts_result(request, wfs, manifest_path, runner.settings.blob_threshold_bytes)
        runner.end(request, [runner.done(decode(Invocation, entry.value)), runner.done(stage),
                             runner.done(inv, out)])

    # --- partitioners --------------------------------------------------------------------
    def partitioner(self, step: Step) -> Callable[[Any, int], int] | None:
        """The step's own partitioner ("package.module:function"), or None for the stable
        hash; one that cannot be imported fails the request saying so."""
        name = step.partitioner
        if not name:
            return None
        found = self._partitioners.get(name)
        if found is None:
            module, _, attribute = name.partition(":")
            try:
                found = getattr(importlib.import_module(module), attribute)
            except (ImportError, AttributeError, ValueError) as exc:
                raise HandlerFailure(f"step {step.name}: partitioner {name!r} cannot be "
                                     f"loaded ({exc.__class__.__name__}: {exc}); give "
                                     f"\"package.module:function\" importable on every "
                                     f"worker") from None
            self._partitioners[name] = found
        return found


def _chunks(produced: Any, handler: LoadedHandler, limit) -> Iterator[list]:
    """A handler's pairs a chunk at a time: a returned mapping whole (the bulk path), else
    what it yields (pairs, Batch lists of pairs; a mapper's leading Return() is allowed)."""
    name = handler.definition.name
    if isinstance(produced, Mapping):
        yield list(produced.items())
        return
    if produced is None:
        return

    def items() -> Iterator:
        for item in guarded(produced, handler, limit):
            if isinstance(item, MapTo):
                raise HandlerFailure(f"handler {name} yielded MapTo: a data step's mapper "
                                     f"produces pairs; it cannot fan out", handler)
            if not isinstance(item, Return):
                yield item

    chunk: list = []
    for pair in pairs(items(), handler):
        chunk.append(pair)
        if len(chunk) >= CHUNK_PAIRS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _shuffled(write: Callable, argument: Iterable | None, handler: LoadedHandler) -> Any:
    """Run a shuffle write; bad keys and a full disk fail the request saying which."""
    return _storing(write, argument, handler, shuffle.ShuffleError, "map output")


def _written(write: Callable, argument: Iterable | None, handler: LoadedHandler) -> Any:
    return _storing(write, argument, handler, ValueError, "output")


def _storing(write: Callable, argument: Iterable | None, handler: LoadedHandler,
             refused: type[Exception], what: str) -> Any:
    name = handler.definition.name
    try:
        return write() if argument is None else write(argument)
    except OSError as exc:
        if exc.errno in FULL_DISK:
            raise StorageFailure(f"the shared filesystem is full writing the {what} of "
                                 f"handler {name} ({exc}): free space, then retry the request "
                                 f"(mr_request_retry)", handler) from None
        raise
    except refused as exc:
        raise HandlerFailure(f"{what} of handler {name} cannot be stored: {exc}",
                             handler) from None
