"""The shared filesystem end to end: files one invocation writes and another reads, values
over the blob threshold round-tripping (and deleted with the request), results written into
the workflow's area, and paths that try to leave it."""
import json
import os

import pytest

from mr.cluster import wait_for


def test_mappers_write_files_the_reducer_reads(cleaned):
    reply = cleaned.post(cleaned.wf, "fs", {"n": 4})
    assert reply.status_code == 200, reply.text
    result = dict(map(tuple, reply.json()["result"]))
    assert result == {"0.txt": "note 0", "1.txt": "note 1", "2.txt": "note 2",
                      "3.txt": "note 3", "listed": ["0.txt", "1.txt", "2.txt", "3.txt"]}
    assert not (cleaned.shared / "scratch" / reply.json()["request_id"]).exists()


def test_values_over_the_threshold_round_trip_as_blobs(cleaned):
    reply = cleaned.post(cleaned.wf, "big", {"n": 3, "size": 3000})   # threshold: 2048 bytes
    assert reply.status_code == 200, reply.text
    result = {str(k): v for k, v in reply.json()["result"]}
    assert result == {"0": [6000, "aaa"], "1": [6000, "bbb"], "2": [6000, "ccc"],
                      "blobs": 6}   # 3 children's arguments and 3 outputs were blobs
    blobs = cleaned.shared / ".mr" / "blobs" / reply.json()["request_id"]
    wait_for(lambda: not blobs.exists(), timeout=10, message="blobs deleted after the request")


def test_large_inline_result_is_kept_in_the_shared_fs(cleaned):
    reply = cleaned.post(cleaned.wf, "big_echo", {"x": "q" * 3000})
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == [["x", "q" * 6000]]
    assert (cleaned.shared / "results" / f"{reply.json()['request_id']}.json").is_file()


def test_file_writer_writes_into_the_workflows_results(cleaned):
    reply = cleaned.post(cleaned.wf, "sess_file", {"word": "file"})
    assert reply.status_code == 200, reply.text
    path = reply.json()["result_path"]
    assert path == str(cleaned.shared.resolve() / "results" / f"{reply.json()['request_id']}.json")
    with open(path) as fh:
        assert dict(map(tuple, json.load(fh)["pairs"]))["seen"] == "file"


@pytest.mark.parametrize("path, problem", [
    ("../outside.txt", "uses '..'"),
    ("/tmp/absolute.txt", "is absolute"),
    ("link/inside.txt", "a symlink points out of it"),
])
def test_paths_cannot_leave_the_workflows_area(cleaned, tmp_path, path, problem):
    cleaned.shared.mkdir(parents=True, exist_ok=True)
    if not (cleaned.shared / "link").is_symlink():
        os.symlink(tmp_path, cleaned.shared / "link")
    reply = cleaned.post(cleaned.wf, "escape", {"path": path})
    assert reply.status_code == 500
    assert reply.json()["error"].startswith("handler escape raised PathEscape: ")
    assert problem in reply.json()["error"]
    assert not (cleaned.shared.parent / "outside.txt").exists()
    assert not os.path.exists("/tmp/absolute.txt") and not (tmp_path / "inside.txt").exists()
