"""Every file a request owns in its workflow's area, removed together: its blobs and shuffle
runs when it is done, its results too when its record goes."""
from __future__ import annotations

from pathlib import Path

from mr.data import parts, shuffle
from mr.fs import WorkflowFS, delete_request_blobs

RESULT_FILE = "results/{}.json"   # the file writer's result of a request


def result_dir_path(result_dir: str, workflow: str, request_id: str) -> Path | None:
    """Where the file writer puts a result when MR_RESULT_DIR is set (outside the workflow's
    shared filesystem); None when it is not."""
    return Path(result_dir) / workflow / f"{request_id}.json" if result_dir else None


def delete_request_files(wfs: WorkflowFS, request_id: str, results: bool = False,
                         outside: Path | None = None) -> None:
    """Intermediate files; with `results`, also what a client could still read (`outside`:
    the result file under MR_RESULT_DIR, from result_dir_path)."""
    delete_request_blobs(wfs, request_id)
    wfs.delete(shuffle.request_dir(request_id))
    if results:
        wfs.delete(parts.results_dir(request_id))
        wfs.delete(RESULT_FILE.format(request_id))
        if outside is not None:
            outside.unlink(missing_ok=True)
