"""The partitioned shuffle's write side: map attempts write sorted run files.

A map attempt's pairs are buffered per partition. Each spill (every `spill_pairs` pairs, and
at commit) sorts every partition's buffer by key and writes ONE file,
`<attempt>.tmp/spill-<k:05d>`, holding partition 0's pairs, then partition 1's, ... back to
back; the byte offset where each partition ends is kept in the reference `commit` returns,
so readers need no listing and no index file. commit renames `<attempt>.tmp` to `<attempt>`
(atomic on the local backend); an attempt's directory carries a random token, so a dead or
duplicate attempt never touches the files of the attempt etcd records.

A partition's bytes are a msgpack stream of chunks, each `[bin(keys), bin(values)]`: up to
CHUNK_PAIRS pairs (fewer when that would pass CHUNK_BYTES), keys sorted across the whole
partition. Keys and values are packed apart so that they can be unpacked apart: arrays in
keys come back as tuples (hashable: a tuple key stays a tuple, a list key becomes one),
arrays in values come back as lists, as everywhere else in the engine.

Reducers read them back through mr.data.shuffle_merge.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from itertools import islice
from operator import itemgetter
from typing import IO, Any
from zlib import crc32

import msgpack

from mr.fs.base import WorkflowFS

Partitioner = Callable[[Any, int], int]

SHUFFLE_DIR = ".mr/shuffle"   # reserved, beside .mr/blobs: no handler writes there
CHUNK_PAIRS = 4096
CHUNK_BYTES = 1 << 20
CHUNK_ITEMS = 16384   # elements of container values a chunk is cut at: 32 runs' chunks held by
                      # a merge stay small (an index's id lists: 40 bytes an id, unpacked)
_CONTAINERS = frozenset((list, tuple, dict))
BATCH_PAIRS = 65536      # add_many partitions this many pairs per pass
_MSGPACK_INT = (-(1 << 63), 1 << 64)
_KEY = itemgetter(0)
_VALUE = itemgetter(1)
ORDERABLE = ("keys of a partitioned step must be mutually orderable (all str, all numbers, "
              "or tuples of those)")


class ShuffleError(ValueError):
    """Map output that cannot be shuffled (keys that cannot be ordered or hashed stably, ...):
    the message names the problem and the offending key's type."""


def check_path_part(kind: str, name: str) -> str:
    """`name` when it is usable as one path component (ids become directory names)."""
    if not isinstance(name, str) or not name or "/" in name or "\0" in name \
            or name in (".", ".."):
        raise ValueError(f"invalid {kind} {name!r}: it must be one path part, without '/'")
    return name


def request_dir(request_id: str) -> str:
    """Where a request's shuffle files live: deleting it removes every attempt's runs."""
    return f"{SHUFFLE_DIR}/{check_path_part('request id', request_id)}"


def attempt_dir(request_id: str, invocation_id: str) -> str:
    """A fresh directory for one map attempt: unique, so no other attempt can overwrite it."""
    return (f"{request_dir(request_id)}/{check_path_part('invocation id', invocation_id)}"
            f".{secrets.token_hex(8)}")


def partition_of(key: Any, partitions: int) -> int:
    """The partition of `key`, the same in every process, host and Python version.

    The rule: a str key hashes as crc32 of its UTF-8 bytes; any other key as crc32 of the
    msgpack encoding of its canonical form, where bools and integral floats are ints (so keys
    that compare equal, 1 == 1.0 == True, land together) and tuples and lists are the same
    array. The partition is that crc32 modulo `partitions`.
    """
    if type(partitions) is not int or partitions < 1:
        raise ValueError(f"partitions must be an int >= 1, not {partitions!r}")
    try:
        if isinstance(key, str):
            return crc32(key.encode("utf-8")) % partitions
        return crc32(msgpack.packb(_canonical(key), use_bin_type=True)) % partitions
    except (UnicodeEncodeError, OverflowError) as exc:
        raise ShuffleError(f"a key of type {type(key).__name__} cannot be encoded for the "
                           f"shuffle: {exc}") from None


def _canonical(key: Any) -> Any:
    if isinstance(key, bool):
        return int(key)
    if isinstance(key, float):
        if key != key:
            raise ShuffleError("a NaN key (float) is not equal to itself, so it cannot be "
                               "grouped")
        if key.is_integer() and _MSGPACK_INT[0] <= key < _MSGPACK_INT[1]:
            return int(key)
        return key
    if key is None or isinstance(key, (str, bytes, int)):
        return key
    if isinstance(key, (tuple, list)):
        return [_canonical(part) for part in key]
    raise ShuffleError(f"a key of type {type(key).__name__} cannot be shuffled: keys are str, "
                       f"bytes, int, float, bool, None or tuples of those")


class RunWriter:
    """Collects one map attempt's pairs, spills sorted runs, commits them by rename.

    commit() returns the reference to record in etcd (small: it grows with spills x
    partitions, never with the pairs):
        {"dir": attempt directory, "partitions": R, "pairs": n, "bytes": file bytes,
         "sizes": [pairs of partition p], "spills": [[end offset of partition p] per spill]}
    Spill k is `<dir>/spill-<k:05d>`; partition p of it is bytes [spills[k][p-1], spills[k][p])
    (from 0 for p = 0). An attempt with no pairs writes nothing and has no spills.
    Pairs given to add/add_many are kept, not copied, until the next spill.
    """

    def __init__(self, wfs: WorkflowFS, request_id: str, invocation_id: str, partitions: int,
                 partitioner: Partitioner | None = None, spill_pairs: int = 1_000_000):
        if type(partitions) is not int or partitions < 1:
            raise ValueError(f"partitions must be an int >= 1, not {partitions!r}")
        if type(spill_pairs) is not int or spill_pairs < 1:
            raise ValueError(f"spill_pairs must be an int >= 1, not {spill_pairs!r}")
        self.dir = attempt_dir(request_id, invocation_id)
        self.partitions = partitions
        self._wfs = wfs
        self._tmp = self.dir + ".tmp"
        self._partitioner = partitioner
        self._spill_pairs = spill_pairs
        self._buffers: list[list] = [[] for _ in range(partitions)]
        self._buffered = 0
        self._sizes = [0] * partitions
        self._spills: list[list[int]] = []
        self._bytes = 0
        self._state = "open"
        self._pack = msgpack.Packer(use_bin_type=True).pack   # one per writer: not thread-safe

    def add(self, key: Any, value: Any) -> None:
        self._check_open()
        self._take([(key, value)], [key])

    def add_many(self, pairs: Iterable) -> None:
        """Add (key, value) pairs, partitioned a batch at a time."""
        self._check_open()
        pairs = iter(pairs)
        while batch := list(islice(pairs, min(BATCH_PAIRS, self._spill_pairs - self._buffered))):
            try:
                keys = [key for key, _ in batch]
            except (TypeError, ValueError):
                bad = next(pair for pair in batch
                           if not isinstance(pair, (tuple, list)) or len(pair) != 2)
                raise ShuffleError(f"map output must be (key, value) pairs, got {bad!r}"
                                   ) from None
            self._take(batch, keys)

    def add_mapping(self, mapping: Mapping) -> None:
        """Add every item of a dict (or Counter, ...). Its keys are unique, so str keys under
        the stable hash are written as a spill of their own, keys and values apart: no
        (key, value) tuple per item, as a hundred thousand short-lived tuples leave the
        allocator's memory scattered and slow what the handler runs next by a third."""
        self._check_open()
        if not mapping:
            return
        if self._partitioner is not None:
            self._take(mapping.items(), mapping)
            return
        keys: list[list] = [[] for _ in range(self.partitions)]
        appends, partitions = [found.append for found in keys], self.partitions
        try:   # one pass: hashing and bucketing in two cost a split's map a tenth more
            for key in mapping:
                appends[crc32(key.encode()) % partitions](key)
        except (AttributeError, UnicodeEncodeError):   # not all str: the general path
            self._take(mapping.items(), mapping)
            return
        self._spill()
        self._sort_all(keys, key=None)
        value_of = mapping.__getitem__
        self._write_spill([((piece, list(map(value_of, piece))) for piece in _pieces(found))
                           for found in keys], [len(found) for found in keys])

    def commit(self) -> dict:
        """Spill what is left and publish the runs; returns the reference for etcd."""
        self._check_open()
        self._spill()
        if self._spills:
            try:
                self._wfs.rename(self._tmp, self.dir)
            except BaseException:
                self._discard()
                raise
        self._state = "committed"
        return {"dir": self.dir, "partitions": self.partitions, "pairs": sum(self._sizes),
                "bytes": self._bytes, "sizes": self._sizes, "spills": self._spills}

    def abort(self) -> None:
        """Remove this attempt's files, committed or not (it failed, or lost to another)."""
        self._state = "aborted"
        self._buffers = [[] for _ in range(self.partitions)]
        self._wfs.delete(self._tmp)
        self._wfs.delete(self.dir)

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"shuffle attempt {self.dir} is already {self._state}")

    def _take(self, pairs: Collection, keys: Iterable) -> None:
        parts = None
        if self._partitioner is None:
            try:   # the fast path for str keys, by partition_of's rule
                parts = [crc32(key.encode()) % self.partitions for key in keys]
            except (AttributeError, UnicodeEncodeError):
                pass
        if parts is None:   # lists in keys become tuples, so list and tuple keys sort together
            pairs = [(_frozen(key), value) for key, value in pairs]
            keys = [key for key, _ in pairs]
            parts = self._partitions_of(keys)
        appends = [buffer.append for buffer in self._buffers]
        for pair, partition in zip(pairs, parts):
            appends[partition](pair)
        self._buffered += len(pairs)
        if self._buffered >= self._spill_pairs:
            self._spill()

    def _partitions_of(self, keys: list) -> list[int]:
        if self._partitioner is None:
            return [partition_of(key, self.partitions) for key in keys]
        parts = [self._partitioner(key, self.partitions) for key in keys]
        for key, partition in zip(keys, parts):
            if type(partition) is not int or not 0 <= partition < self.partitions:
                raise ShuffleError(f"the partitioner gave {partition!r} for a key of type "
                                   f"{type(key).__name__} ({key!r:.80}); it must return an "
                                   f"int from 0 to {self.partitions - 1}")
        return parts

    def _spill(self) -> None:
        if not self._buffered:
            return
        self._sort_all(self._buffers)
        self._write_spill([((list(map(_KEY, piece)), list(map(_VALUE, piece)))
                            for piece in _pieces(buffer)) for buffer in self._buffers],
                          [len(buffer) for buffer in self._buffers])
        self._buffers = [[] for _ in range(self.partitions)]
        self._buffered = 0

    def _sort_all(self, partitions: list[list], key: Callable | None = _KEY) -> None:
        """Sort every partition; keys that cannot be ordered end the attempt (ShuffleError)."""
        try:
            for partition, items in enumerate(partitions):
                _sort(items, partition, key)
        except BaseException:
            self._discard()
            raise

    def _write_spill(self, partitions: list[Iterable[tuple[list, list]]],
                     sizes: list[int]) -> None:
        """One spill file: each partition's sorted (keys, values) pieces, back to back."""
        path = f"{self._tmp}/spill-{len(self._spills):05d}"
        ends, offset = [], 0
        try:
            with self._wfs.open(path, "wb") as file:
                for pieces in partitions:
                    for keys, values in pieces:
                        for chunk in self._chunks(keys, values):
                            file.write(chunk)
                            offset += len(chunk)
                    ends.append(offset)
                flush_durably(file)
        except BaseException:
            self._discard()
            raise
        for partition, size in enumerate(sizes):
            self._sizes[partition] += size
        self._spills.append(ends)
        self._bytes += offset

    def _chunks(self, keys: list, values: list) -> list[bytes]:
        """Packed chunks of about CHUNK_BYTES at most: cut before packing where container
        values add up (an index's id lists: packing once, not again for each half)."""
        chunks, start = [], 0
        for end in _cuts(values):
            chunks += self._packed(keys[start:end], values[start:end])
            start = end
        return chunks

    def _packed(self, keys: list, values: list) -> list[bytes]:
        """One packed chunk, or halves of it while it passes CHUNK_BYTES (long strings)."""
        try:
            chunk = self._pack([self._pack(keys), self._pack(values)])
        except (TypeError, ValueError, OverflowError) as exc:
            raise _unpackable(keys, values, exc) from None
        if len(chunk) <= CHUNK_BYTES or len(keys) == 1:
            return [chunk]
        half = len(keys) // 2
        return (self._packed(keys[:half], values[:half])
                + self._packed(keys[half:], values[half:]))

    def _discard(self) -> None:
        """After a failed write: drop the attempt; a cleanup error must not hide the cause."""
        try:
            self.abort()
        except OSError:
            pass


def _frozen(key: Any) -> Any:
    return tuple(map(_frozen, key)) if isinstance(key, (list, tuple)) else key


def _cuts(values: list) -> list[int]:
    """Where to cut a piece's values so that each part holds about CHUNK_ITEMS elements of
    container values (the end included); a value that big alone is a part of its own, which
    a merge can leave packed until the reducer reads it (mr.data.shuffle_merge)."""
    if _CONTAINERS.isdisjoint(map(type, values)):   # scalars (counts ...): one part
        return [len(values)]
    cuts, weight = [], 0
    for index, value in enumerate(values):
        if type(value) in _CONTAINERS:
            if len(value) >= CHUNK_ITEMS and weight:
                cuts.append(index)
                weight = 0
            weight += len(value)
            if weight >= CHUNK_ITEMS:
                cuts.append(index + 1)
                weight = 0
    if not cuts or cuts[-1] != len(values):
        cuts.append(len(values))
    return cuts


def _pieces(items: list) -> Iterator[list]:
    """A partition CHUNK_PAIRS at a time: a chunk's objects stay in the CPU cache."""
    for start in range(0, len(items), CHUNK_PAIRS):
        yield items[start:start + CHUNK_PAIRS]


def _sort(buffer: list, partition: int, key: Callable | None = _KEY) -> None:
    """Sort a partition's pairs by key (or its bare keys, with key=None)."""
    try:
        buffer.sort(key=key)
    except TypeError as exc:
        found = buffer if key is None else map(_KEY, buffer)
        types = sorted({type(item).__name__ for item in found})
        raise ShuffleError(f"{ORDERABLE}; partition {partition} has keys of types "
                           f"{', '.join(types)}: {exc}") from None


def _unpackable(keys: list, values: list, exc: Exception) -> ShuffleError:
    packer = msgpack.Packer(use_bin_type=True)
    for key, value in zip(keys, values):
        for what, item in (("key", key), ("value", value)):
            try:
                packer.pack(item)
            except (TypeError, ValueError, OverflowError) as error:
                return ShuffleError(f"map output {what} of type {type(item).__name__} (key "
                                    f"{key!r:.80}) cannot be packed with msgpack: {error}")
    return ShuffleError(f"map output cannot be packed with msgpack: {exc}")


def flush_durably(file: IO) -> None:
    """Flush to stable storage where there is a descriptor (the local backend) before the
    commit rename, so a committed run is never a truncated file after a crash."""
    file.flush()
    try:
        descriptor = file.fileno()
    except (AttributeError, OSError):   # an object store's file: its close uploads it
        return
    os.fsync(descriptor)
