"""The shared filesystem: one file area per workflow for handlers' assets, scratch files and
final artifacts, and for intermediate values too large for etcd (mr.fs.blobs).

    wfs = workflow_fs(settings, "examples")     # rooted at <MR_SHARED_FS_URL>/examples/
    wfs.write_bytes("out/report.csv", data)     # atomic on the local backend
    wfs.read_bytes("out/report.csv")

MR_SHARED_FS_URL picks the backend: a directory or file:// URL is the local backend (plain os
calls; works on NFS), anything else goes through fsspec (s3://, gcs://, memory://, ...).
Paths are relative to the workflow's root and cannot leave it (PathEscape).
"""
from __future__ import annotations

import os

from mr.config import Settings
from mr.fs.base import PathEscape, WorkflowFS
from mr.fs.blobs import delete_request_blobs, get_blob, is_blob_ref, put_blob
from mr.fs.local import LocalFS
from mr.kv.keys import check_name

__all__ = ["PathEscape", "WorkflowFS", "LocalFS", "workflow_fs", "open_url", "root_url",
           "put_blob", "get_blob", "is_blob_ref", "delete_request_blobs"]


def root_url(settings: Settings) -> str:
    """Where every workflow's area lives: MR_SHARED_FS_URL, else file://<data_dir>/shared."""
    if settings.shared_fs_url:
        return settings.shared_fs_url
    return "file://" + os.path.join(os.path.abspath(settings.data_dir), "shared")


def open_url(url: str) -> WorkflowFS:
    """A file area rooted at `url`: a directory, a file:// URL, or any fsspec URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return LocalFS(os.path.abspath(url))
    if scheme == "file":
        if not rest.startswith("/"):
            raise ValueError(f"shared filesystem URL {url!r}: a file:// URL needs an absolute "
                             f"path, as in file:///srv/mr")
        return LocalFS(rest)
    from mr.fs.remote import FsspecFS
    return FsspecFS(url)


def workflow_fs(settings: Settings, workflow: str) -> WorkflowFS:
    """The file area of `workflow`: <root_url(settings)>/<workflow>/."""
    check_name("workflow", workflow)
    return open_url(root_url(settings).rstrip("/") + "/" + workflow)
