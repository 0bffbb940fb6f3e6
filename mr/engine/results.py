"""Result writers: what a finished request hands back. Chosen per job.

inline: the pairs are kept on the request record; a result larger than
        MR_BLOB_THRESHOLD_BYTES is written like the file writer's instead.
file:   the pairs are written as JSON to `results/<request_id>.json` in the workflow's shared
        filesystem (or under MR_RESULT_DIR/<workflow>/ when that is set, the older layout);
        the request carries the path — a local path, or a URL such as s3://... for object
        storage.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from mr.fs import WorkflowFS
from mr.kv.codec import pack
from mr.kv.models import RESULT_WRITERS, Request

RESULTS_AREA = "results"


def result_file(request_id: str) -> str:
    """Where a request's result lives inside its workflow's shared filesystem."""
    return f"{RESULTS_AREA}/{request_id}.json"


def write_result(request: Request, pairs: list, wfs: WorkflowFS, result_dir: str,
                 inline_limit: int) -> None:
    """Set the result fields of `request` for its writer (files are written before returning)."""
    if request.result_writer not in RESULT_WRITERS:
        raise ValueError(f"unknown result writer {request.result_writer!r}")
    if request.result_writer == "inline" and len(pack(pairs)) <= inline_limit:
        request.result = pairs
        return
    data = json.dumps({"request_id": request.id, "job": request.job, "pairs": pairs}).encode()
    if result_dir and request.result_writer == "file":
        path = Path(result_dir) / request.workflow / f"{request.id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see a half-written file
        request.result_path = str(path)
        return
    name = result_file(request.id)
    wfs.write_bytes(name, data)  # whole or not at all
    request.result_path = wfs.local_path(name) or f"{wfs.url.rstrip('/')}/{name}"


def read_result(request: Request) -> list | None:
    """The pairs of a done request, wherever its writer put them."""
    if request.result is not None or not request.result_path:
        return request.result
    if "://" in request.result_path:  # object storage: through fsspec
        import fsspec
        with fsspec.open(request.result_path, "rb") as fh:
            return json.loads(fh.read())["pairs"]
    with open(request.result_path, "rb") as fh:
        return json.loads(fh.read())["pairs"]
