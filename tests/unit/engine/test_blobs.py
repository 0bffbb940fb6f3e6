"""Values over the threshold go to the shared filesystem; etcd keeps a reference."""
from mr import fs
from mr.engine import blobs
from mr.kv.codec import pack, unpack


def test_output_round_trip(tmp_path):
    wfs = fs.open_url(str(tmp_path / "wf"))
    small = pack([["k", 1]])
    assert blobs.store_output(wfs, "r1", "0.1", small, 100) == small
    big_pairs = [["k", "x" * 500]]
    stored = blobs.store_output(wfs, "r1", "0.2", pack(big_pairs), 100)
    assert len(stored) < 100 and fs.is_blob_ref(unpack(stored))
    assert blobs.load_output(wfs, stored) == big_pairs
    assert blobs.load_output(wfs, small) == [["k", 1]]
    assert fs.delete_request_blobs(wfs, "r1")
    assert not wfs.exists(".mr/blobs/r1")


def test_arguments_round_trip(tmp_path):
    wfs = fs.open_url(str(tmp_path / "wf"))
    assert blobs.store_arguments(wfs, "r1", "0.1", [["a", 1]], 100) == [["a", 1]]
    ref = blobs.store_arguments(wfs, "r1", "0.2", [["a", "y" * 300]], 100)
    assert isinstance(ref, str) and blobs.load_arguments(wfs, ref) == [["a", "y" * 300]]
    assert blobs.load_arguments(wfs, None) == []
