"""The work of one data-plane invocation, wherever it runs (DESIGN.md §3b).

    map_split         a split's records through the user's mapper (and combiner) into the
                      partitioned, sorted run files of this attempt (mr.data.shuffle), or in
                      a map-only step into one part file of the result (mr.data.parts)
    reduce_partition  partition p of every split's runs, merged through the reducer into one
                      part file (mr.data.parts)

Both return the committed files' reference and touch neither etcd nor the broker: the caller
stores the reference in the transaction that marks the invocation done. `Env` is what the
work needs from the place it runs: a worker's own thread (mr.engine.data_steps) or a fresh
process (mr.engine.data_process).
"""
from __future__ import annotations

import errno
import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from functools import partial
from itertools import islice
from typing import Any, Protocol

from mr.data import inputs, parts, shuffle, shuffle_merge, splits
from mr.data.input_files import InputError
from mr.engine.calls import HandlerFailure, InputFailure, StorageFailure, call, guarded, pairs
from mr.engine.context import ENGINE_TALLIES, Context
from mr.engine.pairs import group, reducer_output
from mr.engine.timelimit import TimeLimit
from mr.fs import WorkflowFS
from mr.handlers.api import MapTo, Return
from mr.handlers.processors import LoadedHandler
from mr.kv.models import Invocation, Step, index_of

# what a handler hands on at once (to a combiner, the run files or a part): this many pairs,
# fewer when their values are big containers (each element counts), so a reducer whose
# values are long lists holds a few of them at a time, never its whole partition's answer
CHUNK_ITEMS = 100_000
FULL_DISK = (errno.ENOSPC, errno.EDQUOT)
MALFORMED_LOGGED = 10   # skipped malformed lines of a split whose place is logged
# The engine's tallies of a data request, beside its handlers' own (Hadoop's job counters):
# bytes of input lines read, pairs and bytes written to the shuffle's run files, pairs and
# bytes of the result's part files
INPUT_BYTES = f"{ENGINE_TALLIES}input_bytes"
SHUFFLED = (f"{ENGINE_TALLIES}shuffled_pairs", f"{ENGINE_TALLIES}shuffled_bytes")
OUTPUT = (f"{ENGINE_TALLIES}output_pairs", f"{ENGINE_TALLIES}output_bytes")

Partitioner = Callable[[Any, int], int]


class Env(Protocol):
    """Where a handler runs: its shared filesystem, its time limit and its `ctx`."""

    fs: WorkflowFS

    def limited(self, handler: LoadedHandler) -> AbstractContextManager[TimeLimit]: ...

    def context(self, handler: LoadedHandler, session_of: str, writable: bool,
                limit: TimeLimit) -> Context: ...


def map_split(env: Env, request_id: str, inv: Invocation, mapper: LoadedHandler,
              combiner: LoadedHandler | None, partitioner: Partitioner | None) -> dict:
    """Run the mapper over the split's records; the committed runs' (or part's) reference."""
    try:
        split = splits.Split.from_record(inv.split)
    except InputError as exc:
        raise InputFailure(f"invocation {inv.id}: {exc}", mapper) from None
    fmt = mapper.definition.input_format
    assert fmt is not None   # a data step's mapper is the one that names an input format
    writer: shuffle.RunWriter | parts.PartWriter
    if inv.map_only:   # the split's pairs are a part of the result
        writer = parts.PartWriter(env.fs, request_id, index_of(inv.id))
        store, add, add_mapping = _written, writer.write_many, writer.write_mapping
    else:
        writer = shuffle.RunWriter(env.fs, request_id, inv.id, inv.partitions or 1,
                                   partitioner)
        store, add, add_mapping = _shuffled, writer.add_many, writer.add_mapping
    try:
        with env.limited(mapper) as limit:
            ctx = env.context(mapper, inv.id, True, limit)
            ctx.split = split.to_record()
            skipping = _skipping(ctx) if mapper.malformed == "skip" else None
            records = inputs.read_records(env.fs, split, fmt, skipping,
                                          read=partial(ctx.log.tally, INPUT_BYTES))
            produced = call(mapper, ctx, records)
            if isinstance(produced, Mapping) and not combiner:   # keys already unique
                store(add_mapping, produced, mapper)
            else:
                for chunk in _chunks(produced, mapper, limit):
                    if combiner:
                        chunk = _combine(env, combiner, inv.id, chunk)
                    store(add, chunk, mapper)
        ref = store(writer.commit, None, mapper)
        _count(ctx, ref, OUTPUT if inv.map_only else SHUFFLED)
        return ref
    except BaseException:
        writer.abort()
        raise


def _count(ctx: Context, ref: dict, names: tuple[str, str]) -> None:
    """The engine's own tallies of a data run (counted, as every tally, only if it commits):
    the pairs and file bytes it shuffled or wrote."""
    pairs, written = names
    ctx.log.tally(pairs, ref["pairs"])
    ctx.log.tally(written, ref["bytes"])


def _skipping(ctx: Context) -> Callable[[InputError], None]:
    """What a mapper whose metadata says `malformed: skip` does with a malformed line: tally
    it ("malformed_lines") and log where the first few were."""
    def skip(error: InputError) -> None:
        ctx.tally("malformed_lines")
        skipped = ctx.log.tallies["malformed_lines"]
        if skipped <= MALFORMED_LOGGED:
            ctx.log.warning("skipped: %s%s", error,
                            " (no more are logged)" if skipped == MALFORMED_LOGGED else "")
    return skip


def _combine(env: Env, combiner: LoadedHandler, session_of: str, chunk: list) -> list:
    """The combiner over one chunk of a split's pairs (it may run on each chunk, as Hadoop's
    may run on each spill: a combiner must not care how values are cut)."""
    with env.limited(combiner) as limit:
        ctx = env.context(combiner, session_of, True, limit)
        produced = reducer_output(call(combiner, ctx, group(chunk)))
        return list(pairs(guarded(produced, combiner, limit), combiner))


def reduce_partition(env: Env, request_id: str, inv: Invocation, reducer: LoadedHandler,
                     refs: list[dict], mapped: str) -> dict:
    """Merge partition `inv.partition` of `refs` through the reducer; the part's reference."""
    partition = inv.partition
    assert partition is not None   # a PARTITION invocation is made with its partition
    writer = parts.PartWriter(env.fs, request_id, partition)
    try:
        with env.limited(reducer) as limit:
            ctx = env.context(reducer, mapped, False, limit)
            produced = call(reducer, ctx, shuffle_merge.merge(env.fs, refs, partition))
            for chunk in _chunks(reducer_output(produced), reducer, limit, streams=True):
                _written(writer.write_many, chunk, reducer)
        ref = _written(writer.commit, None, reducer)
        _count(ctx, ref, OUTPUT)
        return ref
    except BaseException:
        writer.abort()
        raise


_partitioners: dict[str, Partitioner] = {}


def partitioner(step: Step) -> Partitioner | None:
    """The step's own partitioner ("package.module:function"), or None for the stable hash;
    one that cannot be imported fails the request saying so."""
    name = step.partitioner
    if not name:
        return None
    found = _partitioners.get(name)
    if found is None:
        module, _, attribute = name.partition(":")
        try:
            found = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError, ValueError) as exc:
            raise HandlerFailure(f"step {step.name}: partitioner {name!r} cannot be loaded "
                                 f"({exc.__class__.__name__}: {exc}); give "
                                 f"\"package.module:function\" importable on every "
                                 f"worker") from None
        _partitioners[name] = found
    return found


def _chunks(produced: Any, handler: LoadedHandler, limit: TimeLimit, *,
            streams: bool = False) -> Iterator[list]:
    """A handler's pairs a chunk at a time: a returned mapping whole (the bulk path), else
    what it yields (pairs, Batch lists of pairs; a mapper's leading Return() is allowed).

    With `streams` (a reducer's part), a value that is an iterator or StreamedValues is
    written as a list: read whole when short, else a slice at a time (parts.Streamed)."""
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
    weight = 0
    for pair in pairs(items(), handler):
        value = pair[1]
        if streams and isinstance(value, _STREAMS):
            pair = [pair[0], _streamed(value, handler, limit)]
            value = pair[1]
        chunk.append(pair)
        if type(value) is parts.Streamed:
            weight = CHUNK_ITEMS   # its slices are read as it is written: write it now
        weight += 1 + (len(value) if isinstance(value, (list, tuple, dict, set)) else 0)
        if weight >= CHUNK_ITEMS:
            yield chunk
            chunk, weight = [], 0
    if chunk:
        yield chunk


_STREAMS = (Iterator, shuffle_merge.StreamedValues)


def _streamed(value: Iterator | shuffle_merge.StreamedValues, handler: LoadedHandler,
              limit: TimeLimit) -> list | parts.Streamed:
    """An iterator value: its elements as a list when there are few, else parts.Streamed,
    whose slices are taken as the part is written; the handler's errors stay its own."""
    elements = iter(value)
    slices = guarded(iter(lambda: list(islice(elements, parts.LONG_LIST)), []), handler, limit)
    first: list = next(slices, [])
    if len(first) < parts.LONG_LIST:
        return first
    return parts.Streamed(first, slices)


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
