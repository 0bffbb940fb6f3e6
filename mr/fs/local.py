"""The local-directory backend: plain os calls, so it works on any mounted filesystem (NFS).

Every path is resolved (symlinks followed) and must stay under the resolved root. Whole-file
writes go to a temporary file in the same directory and are renamed over the target, which is
atomic on POSIX filesystems and NFS: a reader on another machine sees the old or the new file.
"""
from __future__ import annotations

import errno
import os
import shutil
import uuid
from typing import IO

from mr.fs.base import WorkflowFS, refuse_root, relative, resolved_inside, writing


class LocalFS(WorkflowFS):
    def __init__(self, root: str | os.PathLike):
        self.root = os.path.realpath(root)
        self.url = "file://" + self.root

    def _path(self, path: str) -> str:
        return resolved_inside(path, os.path.join(self.root, relative(path, self.root)),
                               self.root)

    def open(self, path: str, mode: str = "rb", encoding: str | None = None) -> IO:
        full = self._path(path)
        if writing(mode):
            os.makedirs(os.path.dirname(full), exist_ok=True)
        if "b" in mode:
            return open(full, mode)
        return open(full, mode, encoding=encoding or "utf-8")

    def read_bytes(self, path: str) -> bytes:
        with open(self._path(path), "rb") as file:
            return file.read()

    def write_bytes(self, path: str, data: bytes) -> None:
        full = self._path(path)
        refuse_root(relative(path, self.root), "overwrite", self.root)
        parent = os.path.dirname(full)
        os.makedirs(parent, exist_ok=True)
        # A unique name created with O_EXCL (not mkstemp: its 0600 mode would hide the file
        # from other users of a shared mount); the umask applies as for any new file.
        tmp = os.path.join(parent, f".{os.path.basename(full)}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, full)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def exists(self, path: str) -> bool:
        return os.path.exists(self._path(path))

    def isdir(self, path: str) -> bool:
        return os.path.isdir(self._path(path))

    def listdir(self, path: str = "") -> list[str]:
        full = self._path(path)
        if full == self.root and not os.path.exists(full):
            return []
        return sorted(os.listdir(full))

    def delete(self, path: str) -> bool:
        rel = relative(path, self.root)
        refuse_root(rel, "delete", self.root)
        # Resolve the parent only: a symlink named by `path` is removed, not its target.
        parent = self._path(os.path.dirname(rel))
        full = os.path.join(parent, os.path.basename(rel))
        if os.path.islink(full) or os.path.isfile(full):
            os.unlink(full)
        elif os.path.isdir(full):
            shutil.rmtree(full)
        else:
            return False
        return True

    def makedirs(self, path: str) -> None:
        os.makedirs(self._path(path), exist_ok=True)

    def rename(self, src: str, dst: str) -> None:
        ends = []
        for path in (src, dst):
            rel = relative(path, self.root)
            refuse_root(rel, "move", self.root)
            # As in delete: resolve the parent only, so a symlink is moved, not its target.
            ends.append(os.path.join(self._path(os.path.dirname(rel)), os.path.basename(rel)))
        source, target = ends
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.rename(source, target)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            raise FileExistsError(errno.EEXIST, f"cannot move {src!r} onto the directory "
                                  f"{dst!r}, which is not empty", target) from None

    def local_path(self, path: str) -> str | None:
        return self._path(path)
