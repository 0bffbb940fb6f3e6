"""A data job's inputs: files named by path, directory, glob or URL, cut into byte-range
splits, and the records of one split.

A split owns exactly the lines that *start* inside its byte range (Hadoop's rule), so files
can be cut anywhere without reading them and every line is read once: a reader skips the
partial line it starts in and reads past its end to finish its last line. Only `\\n` bytes
delimit lines, so a multi-byte UTF-8 character is never cut. Reading streams in blocks of
about BLOCK_BYTES, whatever the split's size.
"""
from __future__ import annotations

import fnmatch
import gzip
import itertools
import json
import os
import posixpath
import re
import stat
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from mr.fs.base import PathEscape, WorkflowFS, relative

FORMATS = ("text", "jsonl", "raw")
BLOCK_BYTES = 1 << 20
_LINE_BLOCK_BYTES = 1 << 16   # decoding and splitting blocks this small stays in the CPU cache
_SMALL_READ = 1 << 16   # reads while skipping a partial line or growing a very long one
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_MAGIC = re.compile(r"[*?[]")
_GZIP = (".gz", ".gzip")


class InputError(ValueError):
    """An input that cannot be read: the message says which input and what to do."""


@dataclass(frozen=True)
class Split:
    """A byte range of one input file: a path relative to the workflow's shared-fs root, or a
    full URL. `end` is exclusive, and -1 for a whole file (always so for gzip, which cannot be
    entered mid-stream)."""

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
        if _gzipped(self.path) and self.end != -1:
            raise InputError(f"split of {self.path}: a gzip file is read whole (start 0, "
                             f"end -1), not from byte {self.start} to {self.end}")

    def to_record(self) -> dict:
        return {"path": self.path, "start": self.start, "end": self.end}

    @classmethod
    def from_record(cls, record: dict) -> Split:
        """The split `to_record` made; InputError for anything else (a forged or stale record)."""
        if not isinstance(record, dict) or set(record) != {"path", "start", "end"}:
            raise InputError(f"not a split record (a dict of path, start and end): {record!r}")
        return cls(record["path"], record["start"], record["end"])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _gzipped(path: str) -> bool:
    return path.lower().endswith(_GZIP)


# ---------------------------------------------------------------------------- making splits

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
        for path, size in _expand(wfs, pattern, allow_urls):
            if path not in seen:
                seen.add(path)
                splits.extend(_cut(path, size, split_bytes))
    return splits


def _cut(path: str, size: int, split_bytes: int) -> list[Split]:
    if size == 0:
        return []
    if _gzipped(path):
        return [Split(path, 0, -1)]
    return [Split(path, start, min(start + split_bytes, size))
            for start in range(0, size, split_bytes)]


def _expand(wfs: WorkflowFS, pattern: str, allow_urls: bool) -> list[tuple[str, int]]:
    """(split path, size) of each file `pattern` names, sorted by path."""
    if not isinstance(pattern, str) or not pattern:
        raise InputError(f"an input must be a non-empty string, not {pattern!r}")
    outside = bool(_URL.match(pattern)) or pattern.startswith("/")
    if outside and not allow_urls:
        raise InputError(f"input {pattern!r}: inputs given in a request must be paths inside "
                         f"the workflow's shared filesystem, relative to its root (an admin "
                         f"can name URLs in the job definition)")
    try:
        tree, rel = _url_tree(pattern) if outside else _wfs_tree(wfs, pattern)
        found = _match(tree, rel)
    except (PathEscape, PermissionError, ImportError) as exc:
        raise InputError(f"input {pattern!r}: {exc}") from None
    if not found:
        raise InputError(f"input {pattern!r} matches no file (names starting with '.' or '_' "
                         f"are skipped in directories and globs)")
    return found


class _Tree:
    """Listing for one kind of storage; `name` turns a path under `base` into a split path."""

    def __init__(self, base: str, name: Callable[[str], str]):
        self.base = base
        self.name = name
        self._listed: dict[str, list[tuple[str, bool, int]]] = {}

    def full(self, rel: str) -> str:
        return f"{self.base}/{rel}" if rel else self.base

    def entries(self, rel: str) -> list[tuple[str, bool, int]]:
        """(name, is a directory, size) of each entry of directory `rel`; [] if none."""
        if rel not in self._listed:
            self._listed[rel] = self._list(self.full(rel))
        return self._listed[rel]

    def stat(self, rel: str) -> tuple[bool, int] | None:
        """(is a directory, size) of `rel`, None when it does not exist."""
        raise NotImplementedError

    def _list(self, full: str) -> list[tuple[str, bool, int]]:
        raise NotImplementedError


class _OsTree(_Tree):
    def stat(self, rel: str) -> tuple[bool, int] | None:
        try:
            info = os.stat(self.full(rel))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISDIR(info.st_mode):
            return True, 0
        return (False, info.st_size) if stat.S_ISREG(info.st_mode) else None

    def _list(self, full: str) -> list[tuple[str, bool, int]]:
        try:
            with os.scandir(full) as scan:
                found = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            return []
        # A symlinked directory is not walked into: it could loop back.
        return [(entry.name, False, entry.stat().st_size) if entry.is_file()
                else (entry.name, True, 0) for entry in found
                if entry.is_file() or (entry.is_dir() and not entry.is_symlink())]


class _FsspecTree(_Tree):
    def __init__(self, fs, base: str, name: Callable[[str], str]):
        super().__init__(base.rstrip("/"), name)
        self.fs = fs

    def stat(self, rel: str) -> tuple[bool, int] | None:
        try:
            info = self.fs.info(self.full(rel))
        except FileNotFoundError:
            return None
        return (True, 0) if info["type"] == "directory" else (False, info.get("size") or 0)

    def _list(self, full: str) -> list[tuple[str, bool, int]]:
        try:
            infos = self.fs.ls(full, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        # Listing a file (or a store's directory marker) yields the path itself: not a child.
        return [(posixpath.basename(info["name"].rstrip("/")), info["type"] == "directory",
                 info.get("size") or 0)
                for info in infos if info["name"].rstrip("/") != full]


def _wfs_tree(wfs: WorkflowFS, pattern: str) -> tuple[_Tree, str]:
    def checked(rel: str) -> str:
        wfs.local_path(rel)   # PathEscape if a symlink leads out of the root
        return rel

    rel = relative(pattern, wfs.url)
    root = wfs.local_path("")
    if root is not None:
        return _OsTree(root, checked), rel
    return _FsspecTree(wfs.fs, wfs.root, checked), rel


def _url_tree(url: str) -> tuple[_Tree, str]:
    """The tree holding `url`, rooted at the part before its first wildcard."""
    import fsspec  # only URL inputs need it
    try:
        fs, path = fsspec.core.url_to_fs("file://" + url if url.startswith("/") else url)
    except ValueError as exc:
        raise InputError(f"input {url!r}: {exc}") from None
    parts = path.split("/")
    fixed = next((i for i, part in enumerate(parts) if _MAGIC.search(part)), len(parts))
    base, rel = "/".join(parts[:fixed]), "/".join(p for p in parts[fixed:] if p)
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if "file" in protocols:
        tree: _Tree = _OsTree(base, lambda sub: "file://" + tree.full(sub))
    else:
        tree = _FsspecTree(fs, base, lambda sub: fs.unstrip_protocol(tree.full(sub)))
    return tree, rel


def _match(tree: _Tree, rel: str) -> list[tuple[str, int]]:
    hits: dict[str, tuple[bool, int]] = {}
    _walk(tree, "", rel.split("/") if rel else [], None, hits)
    files: dict[str, int] = {}
    for path, (is_dir, size) in hits.items():
        if is_dir:
            files.update(_files_under(tree, path))
        else:
            files[path] = size
    return [(tree.name(path), files[path]) for path in sorted(files)]


def _hidden(name: str) -> bool:
    return name[:1] in (".", "_")


def _walk(tree: _Tree, rel: str, parts: list[str], known: tuple[bool, int] | None,
          hits: dict[str, tuple[bool, int]]) -> None:
    """Collect into `hits` what the pattern `parts` matches under `rel`, as glob does, with
    `**` for any depth; a wildcard does not match a hidden name unless the pattern begins
    with the same character."""
    if not parts:
        known = known or tree.stat(rel)
        if known:
            hits[rel] = known
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        _walk(tree, rel, rest, known, hits)
        for name, is_dir, _ in tree.entries(rel):
            if is_dir and not _hidden(name):
                _walk(tree, _join(rel, name), parts, (True, 0), hits)
    elif not _MAGIC.search(head):
        _walk(tree, _join(rel, head), rest, None, hits)
    else:
        for name, is_dir, size in tree.entries(rel):
            if ((is_dir or not rest) and fnmatch.fnmatchcase(name, head)
                    and not (_hidden(name) and head[0] != name[0])):
                _walk(tree, _join(rel, name), rest, (is_dir, size), hits)


def _files_under(tree: _Tree, rel: str) -> dict[str, int]:
    files: dict[str, int] = {}
    for name, is_dir, size in tree.entries(rel):
        if not _hidden(name):
            if is_dir:
                files.update(_files_under(tree, _join(rel, name)))
            else:
                files[_join(rel, name)] = size
    return files


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


# ---------------------------------------------------------------------------- reading

def read_records(wfs: WorkflowFS, split: Split, fmt: str) -> Iterator:
    """The records of `split`: lines as str ("text"), parsed JSON values of non-blank lines
    ("jsonl"), or bytes blocks of whole lines ("raw", about BLOCK_BYTES each, to split fast).

    The file is opened when iteration starts and closed when it ends.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "raw":
        return (block for _, block in _blocks(wfs, split, BLOCK_BYTES))
    blocks = _blocks(wfs, split, _LINE_BLOCK_BYTES)
    if fmt == "text":   # chained in C: no Python frame per line
        return itertools.chain.from_iterable(_lines(split, offset, block)
                                             for offset, block in blocks)
    return _json_values(split, blocks)


def _blocks(wfs: WorkflowFS, split: Split, size: int) -> Iterator[tuple[int, bytes]]:
    with _open(wfs, split) as file:
        if not _gzipped(split.path):
            yield from _owned(file, split.start, split.end, size)
            return
        try:
            with gzip.GzipFile(fileobj=file, mode="rb") as unzipped:
                yield from _owned(unzipped, 0, -1, size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise InputError(f"input {split.path} is not a valid gzip file ({exc}); rename it "
                             f"if it is not compressed") from None


def _open(wfs: WorkflowFS, split: Split) -> IO[bytes]:
    try:
        if _URL.match(split.path):
            import fsspec
            fs, path = fsspec.core.url_to_fs(split.path)
            return fs.open(path, "rb")
        return wfs.open(split.path, "rb")
    except (FileNotFoundError, IsADirectoryError, PermissionError, ValueError,
            ImportError) as exc:
        raise InputError(f"cannot open input {split.path}: {exc} (was it removed or replaced "
                         f"after the job started?)") from None


def _owned(file: IO[bytes], start: int, end: int, size: int) -> Iterator[tuple[int, bytes]]:
    """Blocks of the whole lines starting in [start, end) (end -1: to the end of the file),
    each with its offset, of at most `size` bytes unless a line is longer; a block ends at a
    line end or at the end of the file."""
    limit = end if end >= 0 else sys.maxsize
    pos = start
    if start > 0:   # skip the line that begins before start, unless start-1 ends it
        file.seek(start - 1)
        pos -= 1
        while True:
            chunk = file.read(_SMALL_READ)
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
        chunk = file.read(max(size - held_bytes, _SMALL_READ))
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


def _lines(split: Split, offset: int, block: bytes) -> list[str]:
    """The lines of a block of whole lines, without their line endings."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = offset + block.rfind(b"\n", 0, exc.start) + 1
        raise InputError(f"{_where(split, bad)} is not UTF-8 ({exc.reason}); read non-UTF-8 "
                         f"data with format 'raw'") from None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines[-1]:
        lines.pop()
    return lines


def _json_values(split: Split, blocks: Iterator[tuple[int, bytes]]) -> Iterator:
    for offset, block in blocks:
        for index, line in enumerate(_lines(split, offset, block)):
            if line and not line.isspace():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    at = offset
                    for _ in range(index):
                        at = block.index(b"\n", at - offset) + 1 + offset
                    raise InputError(f"{_where(split, at)} is not JSON: {exc}") from None


def _where(split: Split, offset: int) -> str:
    unit = "uncompressed byte" if _gzipped(split.path) else "byte"
    return f"input {split.path}: the line at {unit} {offset}"
