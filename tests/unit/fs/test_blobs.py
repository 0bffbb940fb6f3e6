"""Large intermediate values in the shared filesystem: put, reference, get, delete per request."""
from __future__ import annotations

import uuid

import pytest

from mr.fs import (
    LocalFS,
    PathEscape,
    delete_request_blobs,
    get_blob,
    is_blob_ref,
    open_url,
    put_blob,
)


@pytest.fixture(params=["local", "memory"])
def wfs(request, tmp_path):
    if request.param == "local":
        yield LocalFS(tmp_path)
    else:
        area = open_url(f"memory://mr-blobs-{uuid.uuid4().hex}/wf")
        yield area
        bucket = area.root.rsplit("/", 1)[0]
        if area.fs.exists(bucket):
            area.fs.rm(bucket, recursive=True)


def test_round_trip_through_a_reference(wfs):
    data = bytes(range(256)) * 4096   # 1 MiB, every byte value
    ref = put_blob(wfs, "req1", "0.1.out", data)
    assert ref == "blob:.mr/blobs/req1/0.1.out"
    assert is_blob_ref(ref)
    assert get_blob(wfs, ref) == data
    assert wfs.listdir(".mr/blobs/req1") == ["0.1.out"]


def test_delete_request_blobs_removes_that_request_only(wfs):
    one = put_blob(wfs, "r1", "a", b"1")
    put_blob(wfs, "r1", "nested/b", b"2")
    two = put_blob(wfs, "r2", "a", b"3")
    assert delete_request_blobs(wfs, "r1") is True
    assert delete_request_blobs(wfs, "r1") is False
    with pytest.raises(FileNotFoundError):
        get_blob(wfs, one)
    assert get_blob(wfs, two) == b"3"


@pytest.mark.parametrize("value", [None, 3, b"blob:.mr/blobs/x", "blob:", "blob:other/x",
                                   "plain text", {"blob": 1}])
def test_other_values_are_not_references(value):
    assert not is_blob_ref(value)


def test_get_blob_refuses_non_references_and_escapes(wfs):
    with pytest.raises(ValueError, match="not a blob reference"):
        get_blob(wfs, "etc/passwd")
    with pytest.raises(PathEscape):
        get_blob(wfs, "blob:.mr/blobs/../../../etc/passwd")


@pytest.mark.parametrize("request_id", ["", "a/b", "..", ".", "a\0"])
def test_bad_request_ids(wfs, request_id):
    with pytest.raises(ValueError, match="invalid request id"):
        put_blob(wfs, request_id, "x", b"")
    with pytest.raises(ValueError, match="invalid request id"):
        delete_request_blobs(wfs, request_id)


@pytest.mark.parametrize("name", ["", "/", "../x", "a/../../b"])
def test_bad_blob_names(wfs, name):
    with pytest.raises(ValueError):
        put_blob(wfs, "r", name, b"")
