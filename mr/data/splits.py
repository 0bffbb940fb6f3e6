"""A data job's input files cut into byte-range splits, and the bytes a split owns.

A split owns exactly the lines that *start* inside its byte range (Hadoop's rule), so files
can be cut anywhere without reading them and every line is read once: a reader skips the
partial line it starts in and reads past its end to finish its last line. Only `\\n` bytes
delimit lines, so a multi-byte UTF-8 character is never cut. Reading streams in blocks of
whole lines, whatever the split's size. A compressed file (gzip, bzip2 or xz, by its suffix)
is one split, read through its decompressor: a stream cannot be entered mid-way.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Protocol

from mr.data.input_files import URL, InputError, expand
from mr.fs.base import WorkflowFS

SMALL_READ = 1 << 16   # reads while skipping a partial line or growing a very long one


@dataclass(frozen=True)
class Split:
    """A byte range of one input file: a path relative to the workflow's shared-fs root, or a
    full URL. `end` is exclusive, and -1 for a whole file (always so for a compressed one)."""

    path: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise InputError(f"a split's path must be a non-empty string, not {self.path!r}")
        if not _is_int(self.start) or not _is_int(self.end) or self.start < 0 or not (
                self.end > self.start or (self.end == -1 and self.start == 0)):
            raise InputError(f"split of {self.path}: byte range {self.start!r}..{self.end!r} "
                             f"is not 0 <= start < end (or start 0, end -1 for a whole file)")
        codec = codec_of(self.path)
        if codec is not None and self.end != -1:
            raise InputError(f"split of {self.path}: a {codec.name} file is read whole (start "
                             f"0, end -1), not from byte {self.start} to {self.end}")

    def to_record(self) -> dict:
        return {"path": self.path, "start": self.start, "end": self.end}

    @classmethod
    def from_record(cls, record: object) -> Split:
        """The split `to_record` made; InputError for anything else (a forged or stale record)."""
        if not isinstance(record, dict) or set(record) != {"path", "start", "end"}:
            raise InputError(f"not a split record (a dict of path, start and end): {record!r}")
        return cls(record["path"], record["start"], record["end"])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Readable(Protocol):
    """What _owned reads: an input file, or the decompressed stream over one."""

    def read(self, size: int, /) -> bytes: ...

    def seek(self, offset: int, /) -> int: ...


@dataclass(frozen=True)
class _Codec:
    name: str
    open: Callable[[IO[bytes]], _Readable]
    corrupt: Callable[[Exception], bool]   # whether its reader raised this for bad data


def _bad_bz2(exc: Exception) -> bool:
    """bz2 says "Invalid data stream" with a bare OSError (an I/O error has an errno)."""
    return isinstance(exc, EOFError) or (type(exc) is OSError and not exc.errno)


_CODECS = {".gz": _Codec("gzip", lambda file: gzip.GzipFile(fileobj=file, mode="rb"),
                         lambda exc: isinstance(exc, (gzip.BadGzipFile, EOFError, zlib.error))),
           ".bz2": _Codec("bzip2", lambda file: bz2.BZ2File(file, "rb"), _bad_bz2),
           ".xz": _Codec("xz", lambda file: lzma.LZMAFile(file, "rb"),
                         lambda exc: isinstance(exc, (lzma.LZMAError, EOFError)))}
_CODECS[".gzip"] = _CODECS[".gz"]
# compressed or archived by what Python does not read: refused, not read as garbage
_UNREADABLE = {".zst": "zstd", ".zstd": "zstd", ".lz4": "LZ4", ".sz": "Snappy",
               ".snappy": "Snappy", ".br": "Brotli", ".lzo": "LZO", ".zip": "zip",
               ".7z": "7-Zip"}


def _suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    return name[name.rfind("."):] if "." in name else ""


def codec_of(path: str) -> _Codec | None:
    return _CODECS.get(_suffix(path))


def make_splits(wfs: WorkflowFS, inputs: list[str], split_bytes: int,
                allow_urls: bool) -> list[Split]:
    """The splits of every file the inputs name, in input order, files sorted within each.

    URLs and absolute paths are taken only with `allow_urls` (an admin's job definition): a
    request's inputs must stay inside the workflow's shared filesystem.
    """
    if not _is_int(split_bytes) or split_bytes <= 0:
        raise InputError(f"split_bytes must be a positive number of bytes, not {split_bytes!r}")
    if not isinstance(inputs, list) or not inputs:
        raise InputError(f"inputs must be a non-empty list of paths, directories or globs, "
                         f"not {inputs!r}")
    splits: list[Split] = []
    seen: set[str] = set()
    for pattern in inputs:
        for path, size in expand(wfs, pattern, allow_urls):
            if path not in seen:
                seen.add(path)
                splits.extend(_cut(path, size, split_bytes))
    return splits


def _cut(path: str, size: int, split_bytes: int) -> list[Split]:
    if size == 0:
        return []
    unreadable = _UNREADABLE.get(_suffix(path))
    if unreadable:
        raise InputError(f"input {path} is {unreadable}-compressed, which mr does not read: "
                         f"decompress it, or compress it with gzip, bzip2 or xz")
    if codec_of(path) is not None:
        return [Split(path, 0, -1)]
    return [Split(path, start, min(start + split_bytes, size))
            for start in range(0, size, split_bytes)]


def blocks(wfs: WorkflowFS, split: Split, size: int) -> Iterator[tuple[int, bytes]]:
    """The whole lines `split` owns, in blocks of about `size` bytes, each with its offset
    (in the uncompressed stream, for a compressed file)."""
    codec = codec_of(split.path)
    with _open(wfs, split) as file:
        if codec is None:
            yield from _owned(file, split.start, split.end, size)
            return
        try:
            yield from _owned(codec.open(file), 0, -1, size)
        except Exception as exc:
            if not codec.corrupt(exc):
                raise   # the file could not be read (an outage), or a bug: not bad data
            raise InputError(f"input {split.path} is not a valid {codec.name} file ({exc}); "
                             f"rename it if it is not compressed") from None


def _open(wfs: WorkflowFS, split: Split) -> IO[bytes]:
    try:
        if URL.match(split.path):
            import fsspec
            fs, path = fsspec.core.url_to_fs(split.path)
            return fs.open(path, "rb")
        return wfs.open(split.path, "rb")
    except (FileNotFoundError, IsADirectoryError, PermissionError, ValueError,
            ImportError) as exc:
        raise InputError(f"cannot open input {split.path}: {exc} (was it removed or replaced "
                         f"after the job started?)") from None


def _owned(file: _Readable, start: int, end: int, size: int) -> Iterator[tuple[int, bytes]]:
    """Blocks of the whole lines starting in [start, end) (end -1: to the end of the file),
    each with its offset, of at most `size` bytes unless a line is longer; a block ends at a
    line end or at the end of the file."""
    limit = end if end >= 0 else sys.maxsize
    pos = start
    if start > 0:   # skip the line that begins before start, unless start-1 ends it
        file.seek(start - 1)
        pos -= 1
        while True:
            chunk = file.read(SMALL_READ)
            if not chunk:
                return
            newline = chunk.find(b"\n")
            if newline >= 0:
                break
            pos += len(chunk)
            if pos >= limit - 1:   # no line starts before limit
                return
        pos += newline + 1
        if pos >= limit:
            return
        file.seek(pos)
    held: list[bytes] = []   # read past the last cut: no newline in them, the line at pos
    held_bytes = 0
    while True:
        chunk = file.read(max(size - held_bytes, SMALL_READ))
        if not chunk:
            if held:
                yield pos, b"".join(held)
            return
        last = chunk.rfind(b"\n")
        if last < 0:
            held.append(chunk)
            held_bytes += len(chunk)
            continue
        # The owned region ends with the line that holds byte limit-1.
        into = limit - 1 - (pos + held_bytes)
        final = chunk.find(b"\n", max(into, 0)) if into < len(chunk) else -1
        if final >= 0:
            held.append(chunk[:final + 1])
            yield pos, b"".join(held)
            return
        held.append(chunk[:last + 1])
        block = b"".join(held)
        yield pos, block
        pos += len(block)
        held = [chunk[last + 1:]] if last + 1 < len(chunk) else []
        held_bytes = len(chunk) - last - 1
