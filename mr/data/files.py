"""Every file a request owns in its workflow's area, removed together: its blobs and shuffle
runs when it is done, its results too when its record goes."""
from __future__ import annotations

from mr.data import parts, shuffle
from mr.fs import WorkflowFS, delete_request_blobs

RESULT_FILE = "results/{}.json"   # the file writer's result of a request


def delete_request_files(wfs: WorkflowFS, request_id: str, results: bool = False) -> None:
    """Intermediate files; with `results`, also what a client could still read."""
    delete_request_blobs(wfs, request_id)
    wfs.delete(shuffle.request_dir(request_id))
    if results:
        wfs.delete(parts.results_dir(request_id))
        wfs.delete(RESULT_FILE.format(request_id))
