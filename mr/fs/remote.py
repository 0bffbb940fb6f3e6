"""The fsspec backend: any URL fsspec can open (s3://, gcs://, az://, memory://, ...).

Object stores have no real directories: a "directory" exists while something is stored under
it, and each whole-object PUT is atomic. Paths are checked lexically (mr.fs.base.relative);
through fsspec's own local filesystem symlinks are resolved as in the local backend.
"""
from __future__ import annotations

import os
import posixpath
from typing import IO

from mr.fs.base import WorkflowFS, refuse_root, relative, resolved_inside, writing


class FsspecFS(WorkflowFS):
    def __init__(self, url: str, **storage_options):
        import fsspec  # imported here: the local backend does not need it
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise ValueError(f"cannot open shared filesystem {url!r}: {exc} (is the fsspec "
                             f"backend for this protocol installed, e.g. s3fs for s3://?)"
                             ) from None
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (
            self.fs.protocol,)
        self._local = "file" in protocols
        self.root = os.path.realpath(root) if self._local else root.rstrip("/")
        self.url = url.rstrip("/")

    def _path(self, path: str) -> str:
        rel = relative(path, self.url)
        full = f"{self.root}/{rel}" if rel else self.root
        if self._local:
            resolved_inside(path, full, self.root)
        return full

    def _parents(self, full: str) -> None:
        if self._local:   # object stores need no directories before a write
            self.fs.makedirs(posixpath.dirname(full), exist_ok=True)

    def open(self, path: str, mode: str = "rb", encoding: str | None = None) -> IO:
        full = self._path(path)
        if writing(mode):
            self._parents(full)
        if "b" in mode:
            return self.fs.open(full, mode)
        return self.fs.open(full, mode, encoding=encoding or "utf-8")

    def read_bytes(self, path: str) -> bytes:
        return self.fs.cat_file(self._path(path))

    def write_bytes(self, path: str, data: bytes) -> None:
        full = self._path(path)
        refuse_root(relative(path, self.url), "overwrite", self.url)
        if self.fs.isdir(full):
            raise IsADirectoryError(f"{self.url}/{path} is a directory")
        self._parents(full)
        self.fs.pipe_file(full, bytes(data))

    def exists(self, path: str) -> bool:
        return self.fs.exists(self._path(path))

    def isdir(self, path: str) -> bool:
        return self.fs.isdir(self._path(path))

    def listdir(self, path: str = "") -> list[str]:
        full = self._path(path)
        if self.fs.isfile(full):
            raise NotADirectoryError(f"{self.url}/{path} is a file")
        try:
            entries = self.fs.ls(full, detail=False)
        except FileNotFoundError:
            if full == self.root:
                return []
            raise
        return sorted(posixpath.basename(name.rstrip("/")) for name in entries)

    def delete(self, path: str) -> bool:
        refuse_root(relative(path, self.url), "delete", self.url)
        full = self._path(path)
        if not self.fs.exists(full):
            return False
        self.fs.rm(full, recursive=True)
        return True

    def makedirs(self, path: str) -> None:
        self.fs.makedirs(self._path(path), exist_ok=True)

    def rename(self, src: str, dst: str) -> None:
        for path in (src, dst):
            refuse_root(relative(path, self.url), "move", self.url)
        source, target = self._path(src), self._path(dst)
        if self.fs.isdir(target):   # fsspec would move src inside it
            raise FileExistsError(f"cannot move {src!r} onto the directory {dst!r} in "
                                  f"{self.url}")
        self._parents(target)
        self.fs.mv(source, target, recursive=True)

    def local_path(self, path: str) -> str | None:
        self._path(path)   # the same check as every other call, though there is no local path
        return None
