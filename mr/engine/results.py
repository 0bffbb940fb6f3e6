"""Result writers: what a finished request hands back. Chosen per job.

inline: the pairs are kept on the request record; a result larger than
        MR_BLOB_THRESHOLD_BYTES is written like the file writer's instead.
file:   the pairs are written as JSON to `results/<request_id>.json` in the workflow's shared
        filesystem (or under MR_RESULT_DIR/<workflow>/ when that is set, the older layout);
        the request carries the path — a local path, or a URL such as s3://... for object
        storage.

A data step's result is its reducers' part files and their manifest (mr.data.parts), whatever
the writer: the request carries the manifest's path, and clients read it a page at a time
(`page`). An inline writer's small result is also kept on the record.
"""
from __future__ import annotations

import json
import os

from mr.data import parts
from mr.data.files import RESULT_FILE, result_dir_path
from mr.engine import blobs
from mr.fs import WorkflowFS
from mr.kv import keys
from mr.kv.codec import pack
from mr.kv.models import RESULT_WRITERS, Invocation, Request, ResultWriter
from mr.kv.store import Store


def result_file(request_id: str) -> str:
    """Where a request's result lives inside its workflow's shared filesystem."""
    return RESULT_FILE.format(request_id)


def writes_file(request: Request, pairs: list, inline_limit: int) -> bool:
    """Whether write_result would write a file (one name per request) for these pairs."""
    if request.result_writer != ResultWriter.INLINE:
        return True
    try:
        return len(pack(pairs)) > inline_limit
    except (TypeError, ValueError, OverflowError):  # not storable: the completion says so
        return False


def write_result(request: Request, pairs: list, wfs: WorkflowFS, result_dir: str,
                 inline_limit: int) -> None:
    """Set the result fields of `request` for its writer (files are written before returning)."""
    if request.result_writer not in RESULT_WRITERS:
        raise ValueError(f"unknown result writer {request.result_writer!r}")
    if request.result_writer == ResultWriter.INLINE and len(pack(pairs)) <= inline_limit:
        request.result = pairs
        return
    data = json.dumps({"request_id": request.id, "job": request.job, "pairs": pairs}).encode()
    path = result_dir_path(result_dir, request.workflow, request.id)
    if path is not None and request.result_writer == ResultWriter.FILE:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see a half-written file
        request.result_path = str(path)
        return
    name = result_file(request.id)
    wfs.write_bytes(name, data)  # whole or not at all
    request.result_path = _location(wfs, name)


def write_parts_result(request: Request, wfs: WorkflowFS, manifest_path: str,
                       inline_limit: int) -> None:
    """Point `request` at a data step's manifest, and keep a small result inline too."""
    request.result_path = _location(wfs, manifest_path)
    if request.result_writer == ResultWriter.INLINE:
        manifest = parts.read_manifest(wfs, request.id)
        if manifest["bytes"] <= inline_limit:
            request.result = list(parts.iter_pairs(wfs, manifest))


def has_manifest(request: Request) -> bool:
    """A data step's result: part files listed by a manifest, read a page at a time."""
    path = request.result_path
    return path is not None and path.endswith(parts.manifest_path(request.id))


def page(request: Request, wfs: WorkflowFS, offset: int, limit: int) -> tuple[list, int]:
    """Pairs [offset, offset + limit) of a done request's result, and how many there are."""
    if has_manifest(request):
        manifest = parts.read_manifest(wfs, request.id)
        return parts.page(wfs, manifest, offset, limit), manifest["pairs"]
    found = read_result(request) or []
    return found[offset:offset + limit], len(found)


def invocation_output(kv: Store, wfs: WorkflowFS, wf: str, rid: str,
                      inv: Invocation) -> list | None:
    """What one invocation output, as a list, as its parent's reducer reads it (a data step's
    split or partition: the references to its files, the list's one item); None while it has
    stored nothing, or once its request's data was cleaned up."""
    entry = kv.get(keys.output(wf, rid, inv.parent, inv.id))
    if entry is None:
        return None
    output = blobs.load_output(wfs, entry.value)
    return output if isinstance(output, list) else [output]


def no_output_why(inv: Invocation) -> str:
    if inv.parent is None:
        return "the root's output is its request's result (GET /request/<wf>/<id>/result)"
    return (f"it is {inv.state}; a done request's outputs are removed with its other data "
            f"unless it is named or MR_CLEANUP=0")


def _location(wfs: WorkflowFS, name: str) -> str:
    """A file of the workflow's area as clients see it: a local path, or a URL."""
    return wfs.local_path(name) or f"{wfs.url.rstrip('/')}/{name}"


def read_result(request: Request) -> list | None:
    """The pairs of a done request, wherever its writer put them (not a data step's parts,
    which may not fit in memory: see `page`)."""
    if request.result is not None or not request.result_path or has_manifest(request):
        return request.result
    if "://" in request.result_path:  # object storage: through fsspec
        import fsspec
        with fsspec.open(request.result_path, "rb") as fh:
            return json.loads(fh.read())["pairs"]
    with open(request.result_path, "rb") as fh:
        return json.loads(fh.read())["pairs"]
