"""Result writers: what a finished request hands back. Chosen per job.

inline: the pairs are kept on the request record (large ones go to the data directory).
file:   the pairs are written as JSON under MR_RESULT_DIR; the request carries the path.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from mr.kv.codec import pack
from mr.kv.models import RESULT_WRITERS, Request


def write_result(request: Request, pairs: list, result_dir: str, data_dir: str,
                 inline_limit: int) -> None:
    """Set the result fields of `request` for its writer (files are written before returning)."""
    if request.result_writer not in RESULT_WRITERS:
        raise ValueError(f"unknown result writer {request.result_writer!r}")
    if request.result_writer == "inline" and len(pack(pairs)) <= inline_limit:
        request.result = pairs
        return
    base = result_dir if request.result_writer == "file" else data_dir
    path = Path(base) / request.workflow / f"{request.id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"request_id": request.id, "job": request.job, "pairs": pairs}, fh)
    os.replace(tmp, path)  # readers never see a half-written file
    request.result_path = str(path)


def read_result(request: Request) -> list | None:
    """The pairs of a done request, wherever its writer put them."""
    if request.result is not None or not request.result_path:
        return request.result
    with open(request.result_path, encoding="utf-8") as fh:
        return json.load(fh)["pairs"]
