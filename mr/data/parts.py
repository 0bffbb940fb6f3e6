"""Big results as part files: each reducer writes one, a manifest lists them, clients page.

A part is JSON lines, one `[key, value]` per line, so any tool can read it. Strict JSON: a
tuple becomes an array (a tuple key reads back as a list), a dict's int keys become strings,
and bytes, NaN, infinity or any other value JSON cannot represent raise ValueError naming the
key and the type. A reducer attempt writes under a hidden temporary name carrying a random
token and renames it at commit, so a dead or duplicate attempt never replaces the part the
manifest lists. Layout, under results/<request_id>/:

    part-<p:05d>.<token>.jsonl    one per committed reducer attempt
    manifest.json                 {"request_id", "job", "parts": [commit() dicts by
                                   partition], "pairs": total, "bytes": total}
"""
from __future__ import annotations

import json
import secrets
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, islice
from operator import itemgetter
from typing import IO, Any

from mr.data import json_codec
from mr.data.shuffle import check_path_part, flush_durably
from mr.fs.base import WorkflowFS

RESULTS_DIR = "results"
MANIFEST = "manifest.json"
BATCH_LINES = 8192
BATCH_CHARS = 1024 * 1024   # or fewer lines, when they are long (a value's long list)
LONG_LIST = 65536   # a value list this long is encoded a slice at a time, not in one string
READ_LINES = 1024
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_STRING = json.encoder.encode_basestring   # what _JSON does to a str, without its set-up


@dataclass
class Streamed:
    """A value too long to hold at once, written as one JSON array: its first slice, and an
    iterator of the slices after it (a reducer's iterator value, mr.engine.data_work)."""
    first: list
    rest: Iterator[list]


def results_dir(request_id: str) -> str:
    return f"{RESULTS_DIR}/{check_path_part('request id', request_id)}"


def manifest_path(request_id: str) -> str:
    return f"{results_dir(request_id)}/{MANIFEST}"


class PartWriter:
    """One reducer attempt's output: JSON lines, one [key, value] per line, committed by rename.

    Lines are encoded and written a batch at a time, so memory stays bounded however many
    pairs the reducer writes; a value that is a long list (an index's ids of a common word) is
    encoded a slice at a time, so its line never exists whole in memory.
    """

    def __init__(self, wfs: WorkflowFS, request_id: str, partition: int):
        if type(partition) is not int or partition < 0:
            raise ValueError(f"a part's partition is an int >= 0, not {partition!r}")
        token = secrets.token_hex(8)
        self.partition = partition
        self.path = f"{results_dir(request_id)}/part-{partition:05d}.{token}.jsonl"
        self._tmp = f"{results_dir(request_id)}/.part-{partition:05d}.{token}.tmp"
        self._wfs = wfs
        self._file: IO | None = None
        self._lines: list[str] = []
        self._chars = 0
        self._pairs = 0
        self._bytes = 0
        self._state = "open"

    def write(self, key: Any, value: Any) -> None:
        self.write_many([(key, value)])

    def write_mapping(self, mapping: Mapping) -> None:
        self.write_many(mapping.items())

    def write_many(self, pairs: Iterable) -> None:
        self._check_open()
        for key, value in pairs:
            if type(value) is Streamed:
                self._write_long(key, chain([value.first], value.rest))
                continue
            if type(value) in (list, tuple) and len(value) > LONG_LIST:
                self._write_long(key, (value[start:start + LONG_LIST]
                                       for start in range(0, len(value), LONG_LIST)))
                continue
            line = _line(key, value)
            self._lines.append(line)
            self._chars += len(line)
            if len(self._lines) >= BATCH_LINES or self._chars >= BATCH_CHARS:
                self._flush()

    def commit(self) -> dict:
        """Publish the part; returns its manifest entry."""
        self._check_open()
        self._flush()
        try:
            if self._file is None:   # no pairs: still a part, so the manifest is complete
                self._file = self._wfs.open(self._tmp, "wb")
            flush_durably(self._file)
            self._file.close()
            self._wfs.rename(self._tmp, self.path)
        except BaseException:
            self._discard()
            raise
        self._state = "committed"
        return {"path": self.path, "pairs": self._pairs, "bytes": self._bytes,
                "partition": self.partition}

    def abort(self) -> None:
        """Remove this attempt's part, committed or not."""
        self._state = "aborted"
        self._lines, self._chars = [], 0
        file, self._file = self._file, None
        try:
            if file is not None:
                file.close()
        finally:
            self._wfs.delete(self._tmp)
            self._wfs.delete(self.path)

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"part {self.path} is already {self._state}")

    def _flush(self) -> None:
        if self._lines:
            self._emit(("\n".join(self._lines) + "\n").encode("utf-8"))
            self._pairs += len(self._lines)
            self._lines, self._chars = [], 0

    def _write_long(self, key: Any, slices: Iterable[list | tuple]) -> None:
        """One line `[key,[v, …]]`, written a slice of the list at a time."""
        self._flush()
        self._emit(_line(key, [])[:-2].encode("utf-8"))   # "[key,["
        separator = b""
        for piece in slices:
            if not piece:
                continue
            try:
                items = _array_items(piece)
            except (TypeError, ValueError):
                _line(key, piece)   # raises the error that names the key and the type
                raise
            self._emit(separator + items)
            separator = b","
        self._emit(b"]]\n")
        self._pairs += 1

    def _emit(self, data: bytes) -> None:
        try:
            if self._file is None:
                self._file = self._wfs.open(self._tmp, "wb")
            self._file.write(data)
        except BaseException:
            self._discard()
            raise
        self._bytes += len(data)

    def _discard(self) -> None:
        """After a failed write: drop the attempt; a cleanup error must not hide the cause."""
        try:
            self.abort()
        except OSError:
            pass


def _array_items(values: list | tuple) -> bytes:
    """The JSON of `values`' elements, without the array's brackets."""
    data = json_codec.dumps_list(values)
    return data[1:-1] if data is not None else _JSON(values)[1:-1].encode("utf-8")


def _line(key: Any, value: Any) -> str:
    if type(key) is str and type(value) is int:   # the common case, about ten times faster
        return f"[{_STRING(key)},{value}]"
    if type(key) is str and type(value) is list:
        data = json_codec.dumps_list(value)
        if data is not None:
            return f"[{_STRING(key)},{data.decode()}]"
    try:
        return _JSON([key, value])
    except (TypeError, ValueError) as exc:
        try:
            _JSON(key)
            what, item = "value", value
        except (TypeError, ValueError):
            what, item = "key", key
        raise ValueError(f"result pair with key {key!r:.80}: its {what} of type "
                         f"{type(item).__name__} cannot be written as JSON ({exc}); part files "
                         f"hold strict JSON: no bytes, NaN or infinity") from None


def write_manifest(wfs: WorkflowFS, request_id: str, job: str, parts: list[dict]) -> str:
    """Write the manifest of a result's committed parts (atomically); returns its path."""
    ordered = sorted(parts, key=itemgetter("partition"))
    numbers = [part["partition"] for part in ordered]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"a result lists one part per partition; got partitions {numbers}")
    manifest = {"request_id": request_id, "job": job, "parts": ordered,
                "pairs": sum(part["pairs"] for part in ordered),
                "bytes": sum(part["bytes"] for part in ordered)}
    path = manifest_path(request_id)
    wfs.write_bytes(path, json.dumps(manifest).encode("utf-8"))
    return path


def read_manifest(wfs: WorkflowFS, request_id: str) -> dict:
    return json.loads(wfs.read_bytes(manifest_path(request_id)))


def iter_pairs(wfs: WorkflowFS, manifest: dict, offset: int = 0
               ) -> Generator[list, None, None]:
    """The result's [key, value] pairs from `offset` on, streamed; parts wholly before
    `offset` are skipped by their counts, unread."""
    if type(offset) is not int or offset < 0:
        raise ValueError(f"offset must be an int >= 0, not {offset!r}")
    for part in manifest["parts"]:
        if offset >= part["pairs"]:
            offset -= part["pairs"]
            continue
        with wfs.open(part["path"], "rb") as file:
            lines = islice(file, offset, None)
            while batch := list(islice(lines, READ_LINES)):
                # one parse for many lines: each is a JSON value, so they join into an array
                yield from json_codec.loads(b"[" + b",".join(batch) + b"]")
        offset = 0


def page(wfs: WorkflowFS, manifest: dict, offset: int, limit: int) -> list[list]:
    """At most `limit` pairs from `offset` on."""
    if type(limit) is not int or limit < 0:
        raise ValueError(f"limit must be an int >= 0, not {limit!r}")
    pairs = iter_pairs(wfs, manifest, offset)
    try:
        return list(islice(pairs, limit))
    finally:
        pairs.close()
