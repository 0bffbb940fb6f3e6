"""Part-file results on real files: committed by rename, listed by a manifest, read a page at
a time, and strict JSON with errors that name the pair."""
from __future__ import annotations

import enum
import json
import uuid

import pytest

from mr.data import parts
from mr.data.parts import PartWriter, iter_pairs, page, read_manifest, write_manifest
from tests.unit.fs.test_workflow_fs import wfs  # noqa: F401  (the backend fixture)


def write_parts(wfs, sizes: list[int], request_id: str = "req") -> dict:
    """Parts of the given sizes (written in reverse order), pair i of part p is
    [f"p{p}-{i}", i]; returns the manifest read back."""
    entries = []
    for partition in reversed(range(len(sizes))):
        writer = PartWriter(wfs, request_id, partition)
        writer.write_many((f"p{partition}-{i}", i) for i in range(sizes[partition]))
        entries.append(writer.commit())
    write_manifest(wfs, request_id, "count", entries)
    return read_manifest(wfs, request_id)


def all_pairs(sizes: list[int]) -> list[list]:
    return [[f"p{p}-{i}", i] for p, size in enumerate(sizes) for i in range(size)]


def test_commit_publishes_json_lines(wfs):
    writer = PartWriter(wfs, "req", 3)
    writer.write("a", 1)
    writer.write(("t", 2), {"n": [1.5, None, True]})
    writer.write_many([("é", "ü"), (7, [])])
    assert not wfs.exists(writer.path)   # until commit
    entry = writer.commit()
    assert entry["partition"] == 3 and entry["pairs"] == 4
    assert entry["path"].startswith("results/req/part-00003.") and entry["path"].endswith(".jsonl")
    data = wfs.read_bytes(entry["path"])
    assert entry["bytes"] == len(data)
    assert data.decode("utf-8").splitlines() == [
        '["a",1]', '[["t",2],{"n":[1.5,null,true]}]', '["é","ü"]', '[7,[]]']
    assert wfs.listdir("results/req") == [entry["path"].rsplit("/", 1)[1]]


def test_every_line_is_what_the_json_module_writes(wfs):
    tricky = ['a"b\\c', "new\nline\t", "\u2028 é ü 😀", "\x00\x1f", ""]
    pairs = [(key, value) for key in tricky for value in (5, -2**70, True, None, 1.5, key,
                                                          [key, 5], [key, -2**70], [True])]
    writer = PartWriter(wfs, "req", 0)
    writer.write_many(pairs)
    lines = wfs.read_bytes(writer.commit()["path"]).decode("utf-8").split("\n")
    assert lines == [json.dumps([key, value], ensure_ascii=False, separators=(",", ":"))
                     for key, value in pairs] + [""]


def test_many_pairs_stream_in_batches(wfs):
    writer = PartWriter(wfs, "req", 0)
    for i in range(parts.BATCH_LINES + 5):
        writer.write(f"k{i}", i)
    writer.write_many((f"m{i}", i) for i in range(2 * parts.BATCH_LINES + 1))
    entry = writer.commit()
    assert entry["pairs"] == 3 * parts.BATCH_LINES + 6
    assert len(wfs.read_bytes(entry["path"]).splitlines()) == entry["pairs"]


def test_a_long_list_value_is_the_line_json_would_write(wfs):
    """Written a slice at a time, it reads back as one line, whatever its key holds."""
    long = list(range(2 * parts.LONG_LIST + 3))
    pairs = [("before", 1), ('a key with ",[" in it', long), (["k", [1]], tuple(long[:-2])),
             ("exact", long[:parts.LONG_LIST + 1]), ("big", [*long, 2**64, -2**70]),
             ("words", ["é\n", '"', *long]), ("after", [1, 2])]
    writer = PartWriter(wfs, "req", 0)
    writer.write_many(pairs)
    entry = writer.commit()
    lines = wfs.read_bytes(entry["path"]).decode("utf-8").split("\n")
    assert lines == [json.dumps([key, value], ensure_ascii=False, separators=(",", ":"))
                     for key, value in pairs] + [""]
    assert entry["pairs"] == len(pairs) and entry["bytes"] == len(wfs.read_bytes(entry["path"]))


def test_a_streamed_value_is_one_line_written_as_its_slices_come(wfs):
    slices_read = []

    def slices():
        for start in range(0, 3 * parts.LONG_LIST, parts.LONG_LIST):
            slices_read.append(start)
            yield list(range(start, start + parts.LONG_LIST))
        yield []   # an empty slice adds nothing, not a stray comma

    writer = PartWriter(wfs, "req", 0)
    writer.write_many([("a", 1), ("ids", parts.Streamed([-1], slices())), ("z", [2])])
    entry = writer.commit()
    lines = wfs.read_bytes(entry["path"]).decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        ["a", 1], ["ids", [-1, *range(3 * parts.LONG_LIST)]], ["z", [2]]]
    assert slices_read == [0, parts.LONG_LIST, 2 * parts.LONG_LIST] and entry["pairs"] == 3


def test_a_long_list_json_cannot_hold_is_refused_by_name(wfs):
    writer = PartWriter(wfs, "req", 0)
    with pytest.raises(ValueError, match="key 'k': its value of type list"):
        writer.write_many([("k", [1] * parts.LONG_LIST + [float("nan")])])


def test_an_empty_part_is_still_a_part(wfs):
    entry = PartWriter(wfs, "req", 0).commit()
    assert entry["pairs"] == 0 and entry["bytes"] == 0
    assert wfs.read_bytes(entry["path"]) == b""


def test_abort_removes_the_part_before_or_after_commit(wfs):
    open_writer = PartWriter(wfs, "req", 0)
    open_writer.write_many([("a", 1)] * (parts.BATCH_LINES + 1))   # a batch is on disk
    open_writer.abort()
    committed = PartWriter(wfs, "req", 1)
    committed.write("b", 2)
    path = committed.commit()["path"]
    committed.abort()
    assert not wfs.exists(path) and not wfs.exists(open_writer.path)
    assert not wfs.exists("results/req") or wfs.listdir("results/req") == []
    with pytest.raises(RuntimeError, match="aborted"):
        committed.write("c", 3)


def test_two_attempts_of_one_partition_do_not_collide(wfs):
    first, second = PartWriter(wfs, "req", 0), PartWriter(wfs, "req", 0)
    first.write("one", 1)
    second.write("two", 2)
    paths = {first.commit()["path"], second.commit()["path"]}
    assert len(paths) == 2


class Colour(enum.Enum):
    RED = 1


@pytest.mark.parametrize("key, value, named", [
    ("k", b"raw", "value of type bytes"),
    ("k", float("nan"), "value of type float"),
    ("k", [1, float("inf")], "value of type list"),
    ("k", [1, Colour.RED], "value of type list"),
    ("k", [uuid.UUID(int=1)], "value of type list"),
    (b"key", 1, "key of type bytes"),
    ("k", {1, 2}, "value of type set"),
])
def test_values_json_cannot_hold_are_refused_by_name(wfs, key, value, named):
    for write in ("write", "write_many"):
        writer = PartWriter(wfs, "req", 0)
        with pytest.raises(ValueError, match=named) as caught:
            if write == "write":
                writer.write(key, value)
            else:
                writer.write_many([("fine", 1), (key, value)])
        assert repr(key) in str(caught.value)


def test_manifest_round_trip(wfs):
    manifest = write_parts(wfs, [2, 0, 3])
    assert manifest["request_id"] == "req" and manifest["job"] == "count"
    assert [part["partition"] for part in manifest["parts"]] == [0, 1, 2]
    assert manifest["pairs"] == 5
    assert manifest["bytes"] == sum(len(wfs.read_bytes(p["path"])) for p in manifest["parts"])
    assert json.loads(wfs.read_text("results/req/manifest.json")) == manifest


def test_manifest_refuses_two_parts_of_one_partition(wfs):
    entry = {"path": "results/req/part-00000.x.jsonl", "pairs": 1, "bytes": 8, "partition": 0}
    with pytest.raises(ValueError, match="one part per partition"):
        write_manifest(wfs, "req", "count", [entry, dict(entry)])


def test_iter_pairs_from_every_offset(wfs):
    sizes = [3, 0, 4, 1]
    manifest = write_parts(wfs, sizes)
    expected = all_pairs(sizes)
    for offset in range(len(expected) + 2):
        assert list(iter_pairs(wfs, manifest, offset)) == expected[offset:]


def test_iter_pairs_reads_what_only_the_json_module_parses(wfs):
    """Pairs are parsed a batch at a time by orjson, which reads ints past 64 bits as
    floats: a batch holding one is read by the json module."""
    writer = PartWriter(wfs, "req", 0)
    writer.write_many([("small", [1, "é"]), ("big", [2**64 + 1, -2**70 - 1]), ("after", 3)])
    write_manifest(wfs, "req", "count", [writer.commit()])
    read = list(iter_pairs(wfs, read_manifest(wfs, "req")))
    assert repr(read) == repr([["small", [1, "é"]], ["big", [2**64 + 1, -2**70 - 1]],
                               ["after", 3]])   # repr: ints, not floats equal to them


def test_iter_pairs_skips_whole_parts_unread(wfs):
    manifest = write_parts(wfs, [2, 2])
    wfs.delete(manifest["parts"][0]["path"])   # the skipped part is never opened
    assert list(iter_pairs(wfs, manifest, 2)) == [["p1-0", 0], ["p1-1", 1]]
    with pytest.raises(FileNotFoundError):
        list(iter_pairs(wfs, manifest, 1))


def test_pages(wfs):
    sizes = [3, 0, 4]
    manifest = write_parts(wfs, sizes)
    expected = all_pairs(sizes)
    assert page(wfs, manifest, 0, 2) == expected[:2]
    assert page(wfs, manifest, 2, 3) == expected[2:5]     # crosses a part boundary
    assert page(wfs, manifest, 5, 100) == expected[5:]
    assert page(wfs, manifest, 7, 10) == [] and page(wfs, manifest, 0, 0) == []
    with pytest.raises(ValueError):
        page(wfs, manifest, -1, 5)
    with pytest.raises(ValueError):
        page(wfs, manifest, 0, -1)


def test_paths_are_per_request():
    assert parts.results_dir("r1") == "results/r1"
    with pytest.raises(ValueError, match="one path part"):
        parts.results_dir("../x")
    with pytest.raises(ValueError, match="partition"):
        PartWriter(None, "r1", -1)
