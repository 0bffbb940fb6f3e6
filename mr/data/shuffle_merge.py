"""The partitioned shuffle's read side: a reducer merges its partition of the run files that
the map attempts wrote (mr.data.shuffle, which describes the format).

`merge` holds one chunk per run. Rather than a heap (a Python step per pair), it takes from
every run the pairs up to the smallest "last key of the current chunk", concatenates them and
sorts them (timsort merges the sorted pieces in C), then groups equal keys; the group at the
end of a batch is held back, since the next batch may continue it. A key's values come in
the order of the map splits (the input's order), a split's own in the order it wrote them:
an index whose ids grow through the input needs no sort of its id lists, only a chain.

A partition small enough to hold (IN_MEMORY_BYTES packed, IN_MEMORY_PAIRS) skips all that:
its runs are read into one dict of key -> values and its keys sorted once, the same output
at a third of the cost.

A key whose values are too big to hold at once (an index's commonest word: one chunk of a
run holding that key alone, over LAZY_BYTES packed) is handed to the reducer as
`StreamedValues`, a read-only sequence that reads and unpacks one split's value from its run
file at a time as it is iterated, so a reducer that streams its output
(mr.engine.data_work) holds one split's share of the key, never all of it.
"""
from __future__ import annotations

import errno
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import chain, groupby
from operator import itemgetter
from typing import Any, overload

import msgpack

from mr.data.shuffle import ORDERABLE, ShuffleError
from mr.fs.base import WorkflowFS

READ_BYTES = 128 << 10   # a merge reads each run this much at a time
# A partition within both is grouped in a dict rather than streamed: at worst (a million
# distinct short keys) some 180 MB of objects in the reducer's process
IN_MEMORY_BYTES = 16 << 20   # packed, in all its runs
IN_MEMORY_PAIRS = 1_000_000
LAZY_BYTES = 64 << 10    # a one-key chunk's values bigger than this stay packed until read
_KEY = itemgetter(0)
_VALUE = itemgetter(1)


class _Packed:
    """Where a one-key chunk's packed values are in its run file: read and unpacked each
    time they are read, so a merge holds none of a huge key's values, only their places."""
    __slots__ = ("wfs", "path", "offset", "size")

    def __init__(self, wfs: WorkflowFS, path: str, offset: int, size: int):
        self.wfs, self.path, self.offset, self.size = wfs, path, offset, size

    def unpack(self) -> Any:
        return msgpack.unpackb(_read(self.wfs, self.path, self.offset, self.size),
                               raw=False, strict_map_key=False)[0]


class StreamedValues(Sequence[Any]):
    """A key's values, each split's unpacked when it is read (and again if read again): a
    list's reading side without its memory. Iterate it once, or index it; it cannot change."""

    def __init__(self, items: list):
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [_unpacked(item) for item in self._items[index]]
        return _unpacked(self._items[index])

    def __iter__(self) -> Iterator:
        return map(_unpacked, self._items)

    def __repr__(self) -> str:
        return f"<StreamedValues: {len(self._items)} values, unpacked as read>"


def _unpacked(item: Any) -> Any:
    return item.unpack() if type(item) is _Packed else item


def merge(wfs: WorkflowFS, refs: list[dict], partition: int
          ) -> Iterator[tuple[Any, list | StreamedValues]]:
    """(key, [values]) for every key of `partition` across the committed attempts `refs`, in
    key order, each key once, its values in the order of `refs`. Memory: a small partition
    (IN_MEMORY_BYTES, IN_MEMORY_PAIRS) whole, a bigger one a chunk per run plus the current
    batch.

    A missing run file raises FileNotFoundError naming it (the shared filesystem lost it:
    an outage, not bad data); keys that cannot be ordered together raise ShuffleError.
    """
    runs, size, pairs = [], 0, 0
    for ref in refs:
        if not 0 <= partition < ref["partitions"]:
            raise ValueError(f"partition {partition} is outside the {ref['partitions']} "
                             f"partitions of shuffle attempt {ref['dir']}")
        if not ref["sizes"][partition]:
            continue
        pairs += ref["sizes"][partition]
        for number, ends in enumerate(ref["spills"]):
            start = ends[partition - 1] if partition else 0
            if ends[partition] > start:
                path = f"{ref['dir']}/spill-{number:05d}"
                runs.append(_run_chunks(wfs, path, start, ends[partition]))
                size += ends[partition] - start
    if size <= IN_MEMORY_BYTES and pairs <= IN_MEMORY_PAIRS:
        return _grouped_in_memory(runs)
    return _grouped(_batches(runs))


def _run_chunks(wfs: WorkflowFS, path: str, start: int, end: int
                ) -> Iterator[tuple[tuple, list]]:
    """A run's chunks as (keys, values). The file is opened for each read, so a merge of
    thousands of runs holds no file open between reads. Chunks are framed here rather than
    by a streaming msgpack.Unpacker, whose buffer keeps the size of the biggest chunk it
    ever held: one per run, 70 MiB of a 32-split merge after a big key."""
    run = _RunReader(wfs, path, start, end)
    while run.offset < end:
        if run.take(1) != _CHUNK:
            raise OSError(errno.EIO, f"run file is corrupt at byte {run.offset - 1}", path)
        keys = msgpack.unpackb(run.take(run.bin_size()), raw=False, use_list=False,
                               strict_map_key=False)
        size = run.bin_size()
        if len(keys) == 1 and size > LAZY_BYTES:
            yield keys, [_Packed(wfs, path, run.offset, size)]
            run.skip(size)
        else:
            yield keys, msgpack.unpackb(run.take(size), raw=False, strict_map_key=False)


_CHUNK = b"\x92"   # a chunk: a msgpack array of two bins, its keys and its values
_BIN_LENGTH = {0xc4: 1, 0xc5: 2, 0xc6: 4}   # msgpack's bin 8, 16 and 32 headers


class _RunReader:
    """Bytes of [start, end) of a run file, read READ_BYTES at a time; holds only what is
    read and not yet taken."""

    def __init__(self, wfs: WorkflowFS, path: str, start: int, end: int):
        self.wfs, self.path, self.end = wfs, path, end
        self.offset = start   # of the next byte to take
        self._buffer = b""
        self._at = 0

    def take(self, size: int) -> bytes:
        if len(self._buffer) - self._at < size:
            left = self._buffer[self._at:]
            read = min(max(READ_BYTES, size - len(left)), self.end - self.offset - len(left))
            if read < size - len(left):
                raise OSError(errno.EIO, f"run file is corrupt: a chunk passes byte "
                              f"{self.end}", self.path)
            self._buffer = left + _read(self.wfs, self.path, self.offset + len(left), read)
            self._at = 0
        self._at += size
        self.offset += size
        return self._buffer[self._at - size:self._at]

    def skip(self, size: int) -> None:
        held = len(self._buffer) - self._at
        if size <= held:
            self._at += size
        else:
            self._buffer, self._at = b"", 0
        self.offset += size

    def bin_size(self) -> int:
        width = _BIN_LENGTH.get(self.take(1)[0])
        if width is None:
            raise OSError(errno.EIO, f"run file is corrupt at byte {self.offset - 1}",
                          self.path)
        return int.from_bytes(self.take(width), "big")


def _read(wfs: WorkflowFS, path: str, offset: int, size: int) -> bytes:
    try:
        with wfs.open(path, "rb") as file:
            file.seek(offset)
            data = file.read(size)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "a run file of a committed map attempt is "
                                "missing from the shared filesystem", path) from None
    if len(data) < size:
        raise OSError(errno.EIO, f"run file is truncated: it ends before byte "
                      f"{offset + size}", path)
    return data


class _Head:
    """A run in a merge: its current chunk, and the position of its next pair there."""
    __slots__ = ("keys", "values", "position", "run")

    def __init__(self, chunk: tuple[tuple, list], run: Iterator[tuple[tuple, list]]):
        self.keys, self.values = chunk
        self.position = 0
        self.run = run


def _batches(runs: list[Iterator[tuple[tuple, list]]]) -> Iterator[tuple[list[tuple], bool]]:
    """Sorted lists of pairs, every key of one list <= every key of the next, each with
    whether it holds packed values. A stable sort: equal keys keep the order of the runs."""
    heads: list[_Head] = []   # each run with pairs left
    for run in runs:
        chunk = next(run, None)
        if chunk is not None:
            heads.append(_Head(chunk, run))
    try:
        while heads:
            bound = min([head.keys[-1] for head in heads])
            pieces: list[Iterator[tuple]] = []
            left: list[_Head] = []
            packed = False
            for head in heads:
                keys, values, position = head.keys, head.values, head.position
                packed = packed or type(values[0]) is _Packed
                cut = bisect_right(keys, bound, position)
                if cut > position:
                    pieces.append(zip(keys[position:cut], values[position:cut]) if position
                                  or cut < len(keys) else zip(keys, values))
                if cut < len(keys):
                    head.position = cut
                elif (chunk := next(head.run, None)) is not None:
                    head.keys, head.values = chunk
                    head.position = 0
                else:
                    continue
                left.append(head)
            heads = left
            batch = list(chain.from_iterable(pieces))
            if len(pieces) > 1:
                batch.sort(key=_KEY)
            yield batch, packed
    except TypeError as exc:
        raise _unorderable(exc) from None


def _unorderable(exc: TypeError) -> ShuffleError:
    return ShuffleError(f"{ORDERABLE}; the map attempts being merged have keys that cannot be "
                        f"compared: {exc}")


def _grouped(batches: Iterator[tuple[list[tuple], bool]]
             ) -> Iterator[tuple[Any, list | StreamedValues]]:
    """Group equal keys; a batch's last group waits, since the next batch may continue it."""
    pending: tuple[Any, list] | None = None
    for batch, packed in batches:
        groups = groupby(batch, _KEY)
        key, group = next(groups)   # a batch is never empty
        values = list(map(_VALUE, group))
        if pending is not None and pending[0] == key:
            pending[1].extend(values)
        else:
            if pending is not None:
                yield _handed(pending)
            pending = (key, values)
        hand = _handed   # the batch's first group may carry packed values of the last one
        for key, group in groups:
            yield hand(pending)
            hand = _handed if packed else _as_is
            pending = (key, list(map(_VALUE, group)))
    if pending is not None:
        yield _handed(pending)


def _grouped_in_memory(runs: list[Iterator[tuple[tuple, list]]]
                       ) -> Iterator[tuple[Any, list | StreamedValues]]:
    """What _grouped(_batches(runs)) yields, for a partition small enough to hold: each run
    read whole into one dict of key -> values, then the keys sorted once: a dict step per
    pair costs a third of what sorting every batch and grouping it does (a word count's
    partition of 32 runs: 0.35 s -> 0.13 s). The dict keeps the first key of equal ones, as
    a stable sort would, and values keep the order of the runs."""
    groups: dict[Any, list] = {}
    found = groups.get
    packed = False
    for run in runs:
        for keys, values in run:
            packed = packed or type(values[0]) is _Packed
            for key, value in zip(keys, values):
                held = found(key)
                if held is None:
                    groups[key] = [value]
                else:
                    held.append(value)
    try:
        order = sorted(groups)
    except TypeError as exc:
        raise _unorderable(exc) from None
    hand = _handed if packed else _as_is
    for key in order:
        yield hand((key, groups.pop(key)))


def _as_is(group: tuple[Any, list]) -> tuple[Any, list]:
    return group


def _handed(group: tuple[Any, list]) -> tuple[Any, list | StreamedValues]:
    """The group as a reducer gets it: StreamedValues if some of its values are packed."""
    key, values = group
    if any(type(value) is _Packed for value in values):
        return key, StreamedValues(values)
    return group
