"""What every shared-filesystem backend offers, and the one check that keeps paths inside a
workflow's root (backends call `relative` before touching anything)."""
from __future__ import annotations

import os
import posixpath
from typing import IO


class PathEscape(ValueError):
    """A path that would leave the workflow's file area (absolute, '..', NUL, symlink out)."""


def relative(path: str, root: str) -> str:
    """`path` as a clean relative POSIX path ('' for the root itself), or PathEscape.

    Checked lexically, so it holds for every backend; the local backend also resolves symlinks.
    """
    if not isinstance(path, str):
        raise TypeError(f"a shared-filesystem path is a str, not {type(path).__name__}")
    if "\0" in path:
        raise PathEscape(f"path {path!r} contains a NUL byte (root {root})")
    if path.startswith("/"):
        raise PathEscape(f"path {path!r} is absolute; give a path relative to the workflow's "
                         f"root {root}")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PathEscape(f"path {path!r} uses '..', which could leave the workflow's root "
                         f"{root}")
    return posixpath.join(*parts) if parts else ""


def resolved_inside(path: str, full: str, root: str) -> str:
    """`full` with symlinks resolved, or PathEscape when that leaves `root` (itself resolved)."""
    real = os.path.realpath(full)
    if real != root and not real.startswith(root + os.sep):
        raise PathEscape(f"path {path!r} resolves to {real}, outside the workflow's root "
                         f"{root} (a symlink points out of it)")
    return real


class WorkflowFS:
    """One workflow's file area. Paths are relative to its root and cannot leave it.

    `write_bytes` replaces a file whole (readers never see half of it); `open` in a write mode
    streams and makes the parent directories. `delete` removes a file or a directory tree and
    says whether anything was there.
    """

    url: str   # the root, as a URL (file:///..., s3://..., memory://...)

    def open(self, path: str, mode: str = "rb", encoding: str | None = None) -> IO:
        raise NotImplementedError

    def read_bytes(self, path: str) -> bytes:
        raise NotImplementedError

    def write_bytes(self, path: str, data: bytes) -> None:
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def isdir(self, path: str) -> bool:
        raise NotImplementedError

    def listdir(self, path: str = "") -> list[str]:
        """Sorted names in a directory; [] for the root before anything was written."""
        raise NotImplementedError

    def delete(self, path: str) -> bool:
        raise NotImplementedError

    def makedirs(self, path: str) -> None:
        raise NotImplementedError

    def rename(self, src: str, dst: str) -> None:
        """Move a file or a directory tree to `dst`, making dst's parent directories; a file
        at `dst` is replaced, an existing directory is not (FileExistsError; locally an empty
        one is replaced).

        This is how a writer commits: it writes under a temporary name, then renames. The
        local backend renames in one step, atomic on POSIX and NFS, so readers see the whole
        directory or nothing; an object store copies and deletes, so a reader must learn of
        `dst` only after this returns (the engine records it in etcd afterwards).
        """
        raise NotImplementedError

    def local_path(self, path: str) -> str | None:
        """A real filesystem path (for tools that need one), or None off the local backend."""
        return None

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8")

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def writing(mode: str) -> bool:
    return any(flag in mode for flag in "wax+")


def refuse_root(rel: str, what: str, root: str) -> None:
    if rel == "":
        raise ValueError(f"refusing to {what} the workflow's root {root} itself; name a path "
                         f"inside it")
