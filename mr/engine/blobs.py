"""Large intermediate values go to the workflow's shared filesystem; etcd keeps a reference.

An invocation's output (or a child mapper's arguments) packed larger than
MR_BLOB_THRESHOLD_BYTES is written as a blob of its request, and etcd stores the blob's
reference (a short "blob:..." string; outputs and arguments are lists, so the two never
mix) in its place. Readers call `load_*`, which fetches the blob when they meet one.

Blob names carry a random part, so a re-run never overwrites the blob that another attempt's
committed reference points to. A done request's blobs are deleted by the runner that ended it
(when cleanup is on); a failed one keeps them with its other data until it is removed.
"""
from __future__ import annotations

import uuid
from typing import Any

from mr import fs
from mr.kv.codec import pack, unpack


def _put(wfs: fs.WorkflowFS, request_id: str, name: str, packed: bytes) -> str:
    return fs.put_blob(wfs, request_id, f"{name}.{uuid.uuid4().hex[:8]}", packed)


def store_output(wfs: fs.WorkflowFS, request_id: str, output_of: str, packed: bytes,
                 threshold: int) -> bytes:
    """What to store in etcd for the packed output of invocation `output_of`."""
    if len(packed) <= threshold:
        return packed
    return pack(_put(wfs, request_id, f"out-{output_of}", packed))


def load_output(wfs: fs.WorkflowFS, stored: bytes) -> Any:
    """One stored output, fetched from the shared filesystem when it is a blob: an
    invocation's pairs (a list), or the files' reference (a dict) of a data step's split or
    partition (mr.engine.data_steps)."""
    value = unpack(stored)
    return unpack(fs.get_blob(wfs, value)) if fs.is_blob_ref(value) else value


def store_arguments(wfs: fs.WorkflowFS, request_id: str, invocation_id: str, arguments: list,
                    threshold: int) -> list | str:
    """A child mapper's arguments as kept on its invocation record."""
    packed = pack(arguments)
    if len(packed) <= threshold:
        return arguments
    return _put(wfs, request_id, f"args-{invocation_id}", packed)


def load_arguments(wfs: fs.WorkflowFS, stored: list | str | None) -> list:
    """A child mapper's arguments from its invocation record (store_arguments' list, or the
    reference of its blob)."""
    if isinstance(stored, str):   # get_blob refuses a str that is no blob reference
        return unpack(fs.get_blob(wfs, stored))
    return stored or []
