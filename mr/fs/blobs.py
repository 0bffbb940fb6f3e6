"""Large intermediate values kept in the shared filesystem instead of etcd.

etcd keeps a short reference ("blob:.mr/blobs/<request_id>/<name>"); the bytes live in the
workflow's file area under the reserved directory .mr/blobs/<request_id>/, so removing a
request's blobs is one directory delete.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mr.fs.base import WorkflowFS

REF_PREFIX = "blob:"
BLOB_DIR = ".mr/blobs"


def _request_dir(request_id: str) -> str:
    if not isinstance(request_id, str) or not request_id or "/" in request_id \
            or request_id in (".", "..") or "\0" in request_id:
        raise ValueError(f"invalid request id {request_id!r} for a blob: one path part, "
                         f"without '/'")
    return f"{BLOB_DIR}/{request_id}"


def put_blob(wfs: WorkflowFS, request_id: str, name: str, data: bytes) -> str:
    """Store `data` whole (atomically on the local backend); returns the reference for etcd."""
    if not isinstance(name, str) or not name.strip("/"):
        raise ValueError(f"invalid blob name {name!r}")
    path = f"{_request_dir(request_id)}/{name.strip('/')}"
    wfs.write_bytes(path, data)
    return REF_PREFIX + path


def is_blob_ref(value: object) -> bool:
    return isinstance(value, str) and value.startswith(f"{REF_PREFIX}{BLOB_DIR}/")


def get_blob(wfs: WorkflowFS, ref: str) -> bytes:
    """The bytes behind a reference from put_blob (FileNotFoundError once deleted)."""
    if not is_blob_ref(ref):
        raise ValueError(f"{ref!r} is not a blob reference (they start with "
                         f"{REF_PREFIX}{BLOB_DIR}/)")
    return wfs.read_bytes(ref[len(REF_PREFIX):])


def delete_request_blobs(wfs: WorkflowFS, request_id: str) -> bool:
    """Remove every blob of a request; False when it had none."""
    return wfs.delete(_request_dir(request_id))
