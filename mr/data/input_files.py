"""Which files a data job's input names: a path, a directory (every file under it), a glob
(`*`, `?`, `[...]`, and `**` for any depth) or, from an admin's job definition, a URL or an
absolute path; in the workflow's shared filesystem, on local disk, or in any fsspec store.

Directories and wildcards skip names starting with '.' or '_' (hidden files and markers)
unless the pattern names them. A directory that holds a data job's result (its manifest) is
read as the parts the manifest lists, so one job reads another's output, and never a part
that a dead or duplicate reducer attempt left beside them. mr.data.inputs cuts the files
found into splits.
"""
from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
import stat
from collections.abc import Callable
from typing import Any

from mr.data.parts import MANIFEST
from mr.fs.base import PathEscape, WorkflowFS, relative
from mr.fs.remote import FsspecFS

URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")   # an input, or a split's path, that is a URL
_MAGIC = re.compile(r"[*?[]")


class InputError(ValueError):
    """An input that cannot be read: the message says which input and what to do."""


def expand(wfs: WorkflowFS, pattern: str, allow_urls: bool) -> list[tuple[str, int]]:
    """(split path, size) of each file `pattern` names, sorted by path."""
    if not isinstance(pattern, str) or not pattern:
        raise InputError(f"an input must be a non-empty string, not {pattern!r}")
    outside = bool(URL.match(pattern)) or pattern.startswith("/")
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

    def read(self, rel: str) -> bytes:
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

    def read(self, rel: str) -> bytes:
        with open(self.full(rel), "rb") as file:
            return file.read()

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
    def __init__(self, fs: Any, base: str, name: Callable[[str], str]):   # an fsspec filesystem
        super().__init__(base.rstrip("/"), name)
        self.fs = fs

    def stat(self, rel: str) -> tuple[bool, int] | None:
        try:
            info = self.fs.info(self.full(rel))
        except FileNotFoundError:
            return None
        return (True, 0) if info["type"] == "directory" else (False, info.get("size") or 0)

    def read(self, rel: str) -> bytes:
        return self.fs.cat_file(self.full(rel))

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
    assert isinstance(wfs, FsspecFS), wfs   # the one backend without local paths
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


def _result_parts(tree: _Tree, rel: str) -> dict[str, int] | None:
    """The parts that the manifest of the result in directory `rel` lists, or None when
    `rel` holds no result (no manifest, or some other file of that name)."""
    listed = {name: size for name, is_dir, size in tree.entries(rel) if not is_dir}
    if MANIFEST not in listed:
        return None
    try:
        manifest = json.loads(tree.read(_join(rel, MANIFEST)))
        names = [posixpath.basename(part["path"]) for part in manifest["parts"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    missing = [name for name in names if name not in listed]
    if missing:
        raise InputError(f"the result in {rel or '.'} lists part {missing[0]}, which is not "
                         f"there: was it removed?")
    return {_join(rel, name): listed[name] for name in names}


def _files_under(tree: _Tree, rel: str) -> dict[str, int]:
    """Every file under directory `rel`; of a result, the parts its manifest lists."""
    parts = _result_parts(tree, rel)
    if parts is not None:
        return parts
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
