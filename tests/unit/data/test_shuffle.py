"""The partitioned shuffle on real files: stable partitions, sorted spills committed by
rename, and a k-way merge that groups every key once, on every filesystem backend."""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import zlib

import msgpack
import pytest

from mr.data import shuffle, shuffle_merge
from mr.data.shuffle import RunWriter, ShuffleError, partition_of
from mr.data.shuffle_merge import merge
from tests.unit.fs.test_workflow_fs import wfs  # noqa: F401  (the backend fixture)

KEYS = ["apple", "", "héllo", 42, -1, 1.5, b"raw", ("a", 1), None, 2.0, True, ("x", (1, 2))]


@pytest.fixture(autouse=True, params=["grouped in memory", "streamed"])
def merge_path(request, monkeypatch):
    """Every test twice: a merge groups a partition that fits in a dict there, and streams a
    bigger one through sorted batches; the two must not differ in anything but speed."""
    if request.param == "streamed":
        monkeypatch.setattr(shuffle_merge, "IN_MEMORY_BYTES", 0)
        monkeypatch.setattr(shuffle_merge, "IN_MEMORY_PAIRS", 0)
    return request.param


def merged(wfs, refs, partitions):
    """Every partition's merge output as one dict, checking each key comes once, in order,
    in the partition partition_of gives it."""
    out = {}
    for partition in range(partitions):
        keys = []
        for key, values in merge(wfs, refs, partition):
            assert key not in out
            out[key] = values
            keys.append(key)
        assert keys == sorted(keys)
    return out


def grouped(pairs):
    groups = collections.defaultdict(list)
    for key, value in pairs:
        groups[key].append(value)
    return groups


def test_partition_of_fixed_values():
    """The documented rule, pinned: crc32 of UTF-8 for str, of msgpack for the rest."""
    assert partition_of("apple", 2**32) == zlib.crc32(b"apple") == 2838417488
    assert partition_of("héllo", 2**32) == 2654700086
    assert partition_of("", 7) == 0
    assert partition_of(42, 2**32) == zlib.crc32(b"\x2a") == 163128923
    assert partition_of(("a", 1), 2**32) == zlib.crc32(b"\x92\xa1a\x01") == 3847662356
    assert partition_of(b"raw", 2**32) == 770708655
    assert partition_of(None, 2**32) == 1231433021
    assert partition_of(1.5, 2**32) == 3622288468


def test_equal_keys_share_a_partition():
    for partitions in (2, 7, 64):
        assert partition_of(("a", 1), partitions) == partition_of(["a", 1], partitions)
        assert partition_of(("a", (1, 2)), partitions) == partition_of(["a", [1, 2]],
                                                                        partitions)
        assert partition_of(1, partitions) == partition_of(1.0, partitions) \
            == partition_of(True, partitions)
        assert partition_of(("k", 2.0), partitions) == partition_of(("k", 2), partitions)


def test_partitions_are_in_range():
    keys = [f"word{i}" for i in range(2000)] + list(range(-500, 500)) + KEYS
    for partitions in (1, 2, 3, 8, 13, 64, 1000):
        seen = {partition_of(key, partitions) for key in keys}
        assert seen <= set(range(partitions))
        if partitions <= 64:
            assert len(seen) == partitions   # spread: every partition is used


def test_partition_of_is_the_same_in_another_process():
    """Python's salted hash() would differ between these processes; partition_of may not."""
    code = ("import json, sys; from mr.data.shuffle import partition_of as p; "
            "keys = [k if not isinstance(k, list) else tuple(k) for k in json.load(sys.stdin)]; "
            "print(json.dumps([[p(k, r) for r in (2, 7, 64)] for k in keys]))")
    keys = [key for key in KEYS if not isinstance(key, bytes)]
    expected = [[partition_of(key, r) for r in (2, 7, 64)] for key in keys]
    for seed in ("0", "12345"):
        out = subprocess.run([sys.executable, "-c", code], input=json.dumps(keys),
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed})
        assert json.loads(out.stdout) == expected


@pytest.mark.parametrize("key", [{"a": 1}, {1, 2}, float("nan"), ("ok", float("nan")),
                                 object(), 2**70, "\ud800"])
def test_keys_that_cannot_be_partitioned(key):
    with pytest.raises(ShuffleError, match=type(key).__name__ if not isinstance(key, tuple)
                       else "NaN"):
        partition_of(key, 4)


def test_partitions_must_be_positive():
    with pytest.raises(ValueError):
        partition_of("a", 0)
    with pytest.raises(ValueError):
        RunWriter(None, "r", "0.1", 0)


def test_spills_then_merge_equal_a_plain_grouping(wfs):
    pairs_of = [[(f"k{(i * 7 + a) % 53}", (a, i)) for i in range(300)] for a in range(4)]
    refs = []
    for attempt, pairs in enumerate(pairs_of):
        writer = RunWriter(wfs, "req", f"0.{attempt}", 3, spill_pairs=40)
        for key, value in pairs[:100]:
            writer.add(key, value)
        writer.add_many(pairs[100:])
        refs.append(writer.commit())
    assert all(len(ref["spills"]) == 8 for ref in refs)
    assert refs[0]["pairs"] == 300 and sum(refs[0]["sizes"]) == 300
    got = merged(wfs, refs, 3)
    expected = grouped(pair for pairs in pairs_of for pair in pairs)
    assert {key: sorted(values) for key, values in got.items()} == \
        {key: sorted(map(list, values)) for key, values in expected.items()}


def test_every_bulk_path_places_keys_as_partition_of_does(wfs):
    words = [f"w{i}" for i in range(500)]
    writer = RunWriter(wfs, "req", "0.1", 5)
    writer.add_mapping(collections.Counter(words[:200]))
    writer.add_many((word, 1) for word in words[200:400])
    for word in words[400:]:
        writer.add(word, 1)
    ref = writer.commit()
    assert ref["sizes"] == [sum(partition_of(w, 5) == p for w in words) for p in range(5)]
    for partition in range(5):
        assert all(partition_of(key, 5) == partition for key, _ in merge(wfs, [ref], partition))


def test_one_partition_and_more_partitions_than_keys(wfs):
    one = RunWriter(wfs, "req", "0.1", 1)
    one.add_mapping({"b": 2, "a": 1, "c": 3})
    assert list(merge(wfs, [one.commit()], 0)) == [("a", [1]), ("b", [2]), ("c", [3])]
    many = RunWriter(wfs, "req", "0.2", 16)
    many.add_mapping({"b": 2, "a": 1, "c": 3})
    ref = many.commit()
    assert sum(size > 0 for size in ref["sizes"]) <= 3
    assert merged(wfs, [ref], 16) == {"a": [1], "b": [2], "c": [3]}


def test_a_key_spanning_chunks_and_runs_is_grouped_once(wfs, monkeypatch):
    """Chunk and batch edges fall inside one key's pairs; it still comes out once."""
    monkeypatch.setattr(shuffle, "CHUNK_PAIRS", 64)
    monkeypatch.setattr(shuffle_merge, "READ_BYTES", 100)
    refs = []
    for attempt in range(3):
        writer = RunWriter(wfs, "req", f"0.{attempt}", 2, spill_pairs=500)
        writer.add_many([("same", i) for i in range(700)])
        writer.add_many([(f"k{i:04d}", attempt) for i in range(300)])
        refs.append(writer.commit())
    got = merged(wfs, refs, 2)
    assert sorted(got["same"]) == sorted(list(range(700)) * 3)
    assert len(got) == 301 and all(sorted(got[f"k{i:04d}"]) == [0, 1, 2] for i in range(300))


def test_big_values_are_split_into_bounded_chunks(wfs):
    writer = RunWriter(wfs, "req", "0.1", 1)
    big = {f"k{i}": "x" * 300_000 for i in range(9)}
    writer.add_mapping(big)
    ref = writer.commit()
    assert ref["bytes"] > 9 * 300_000
    assert dict((key, values[0]) for key, values in merge(wfs, [ref], 0)) == big


def test_a_big_value_stays_packed_until_read_and_keys_keep_the_runs_order(wfs, monkeypatch):
    """A one-key chunk over LAZY_BYTES comes as StreamedValues: each run's value read from its
    file and unpacked as it is read; a key's values (lazy or not) come in the runs' order."""
    monkeypatch.setattr(shuffle_merge, "LAZY_BYTES", 1000)
    monkeypatch.setattr(shuffle, "CHUNK_ITEMS", 500)
    monkeypatch.setattr(shuffle_merge, "READ_BYTES", 333)   # chunks span reads
    refs = []
    for attempt in range(12):
        writer = RunWriter(wfs, "req", f"0.{attempt}", 1)
        writer.add_mapping({"a": [attempt] * 10, "big": list(range(attempt * 1000,
                                                                   attempt * 1000 + 1000)),
                            "small": [attempt], "tail": attempt})
        refs.append(writer.commit())
    got = dict(merge(wfs, refs, 0))
    big, small = got["big"], got["small"]
    assert isinstance(big, shuffle_merge.StreamedValues) and len(big) == 12
    assert [ids[0] for ids in big] == [attempt * 1000 for attempt in range(12)]
    assert big[3] == list(range(3000, 4000)) and big[1:3] == [list(range(1000, 2000)),
                                                              list(range(2000, 3000))]
    assert type(small) is list and small == [[attempt] for attempt in range(12)]
    assert got["tail"] == list(range(12))
    with pytest.raises(TypeError):
        big[0] = []   # read-only: a reducer cannot mistake it for its own list


def test_custom_partitioner(wfs):
    writer = RunWriter(wfs, "req", "0.1", 3, partitioner=lambda key, n: len(key) % n)
    writer.add_mapping({"a": 1, "bb": 2, "ccc": 3, "dddd": 4})
    writer.add("ee", 5)
    ref = writer.commit()
    assert [dict(merge(wfs, [ref], p)) for p in range(3)] == [
        {"ccc": [3]}, {"a": [1], "dddd": [4]}, {"bb": [2], "ee": [5]}]


@pytest.mark.parametrize("result", [3, -1, 1.0, None])
def test_partitioner_out_of_range_is_refused(wfs, result):
    writer = RunWriter(wfs, "req", "0.1", 3, partitioner=lambda key, n: result)
    with pytest.raises(ShuffleError, match="from 0 to 2"):
        writer.add("k", 1)
    with pytest.raises(ShuffleError, match=repr(result)):
        writer.add_mapping({"k": 1})


def test_mixed_key_types_are_refused_and_the_attempt_removed(wfs):
    writer = RunWriter(wfs, "req", "0.1", 1, spill_pairs=2)
    writer.add("a", 1)
    with pytest.raises(ShuffleError, match="mutually orderable") as caught:
        writer.add(1, 1)
    assert "int" in str(caught.value) and "str" in str(caught.value)
    assert not wfs.exists(writer.dir + ".tmp") and not wfs.exists(writer.dir)
    with pytest.raises(RuntimeError, match="aborted"):
        writer.add("b", 1)


def test_key_types_mixed_across_attempts_fail_the_merge(wfs):
    refs = []
    for attempt, key in enumerate(["a", 1]):
        writer = RunWriter(wfs, "req", f"0.{attempt}", 1)
        writer.add(key, 1)
        refs.append(writer.commit())
    with pytest.raises(ShuffleError, match="mutually orderable.*'int' and 'str'|'str' and 'int'"):
        list(merge(wfs, refs, 0))


def test_equal_keys_of_other_types_are_one_key_the_first_runs(wfs):
    """1, 1.0 and True are one key (they compare and hash equal); it comes out as the first
    run wrote it, its values in the runs' order."""
    refs = []
    for attempt, key in enumerate([1, 1.0, True, 1]):
        writer = RunWriter(wfs, "req", f"0.{attempt}", 1)
        writer.add_many([(key, attempt), (0.5, attempt)])
        refs.append(writer.commit())
    got = list(merge(wfs, refs, 0))
    assert got == [(0.5, [0, 1, 2, 3]), (1, [0, 1, 2, 3])]
    assert type(got[1][0]) is int


def test_tuple_keys_stay_tuples_and_values_keep_lists(wfs):
    writer = RunWriter(wfs, "req", "0.1", 4)
    writer.add(("a", 1), [1, [2, 3]])
    writer.add(["a", 1], (4, 5))              # a list key is the same key as the tuple
    writer.add(("b", (2, 3)), {"n": None, 7: b"\x00"})
    writer.add_mapping({("c", 0): 1.5})
    got = merged(wfs, [writer.commit()], 4)
    assert got == {("a", 1): [[1, [2, 3]], [4, 5]], ("b", (2, 3)): [{"n": None, 7: b"\x00"}],
                   ("c", 0): [1.5]}
    assert all(type(key) is tuple for key in got)
    assert all(type(value) is list for value in got[("a", 1)])


def test_empty_output_writes_nothing_and_merges_to_nothing(wfs):
    writer = RunWriter(wfs, "req", "0.1", 4)
    writer.add_many([])
    writer.add_mapping({})
    ref = writer.commit()
    assert ref == {"dir": writer.dir, "partitions": 4, "pairs": 0, "bytes": 0,
                   "sizes": [0, 0, 0, 0], "spills": []}
    assert not wfs.exists(shuffle.request_dir("req"))
    assert all(list(merge(wfs, [ref], p)) == [] for p in range(4))
    assert list(merge(wfs, [], 0)) == []


def test_abort_removes_the_attempt_before_or_after_commit(wfs):
    spilled = RunWriter(wfs, "req", "0.1", 2, spill_pairs=2)
    spilled.add_many([("a", 1), ("b", 2), ("c", 3)])
    assert wfs.exists(spilled.dir + ".tmp/spill-00000")
    spilled.abort()
    committed = RunWriter(wfs, "req", "0.2", 2)
    committed.add("a", 1)
    committed.commit()
    assert wfs.isdir(committed.dir)
    committed.abort()
    assert not any(wfs.exists(path) for path in (spilled.dir + ".tmp", spilled.dir,
                                                 committed.dir + ".tmp", committed.dir))
    with pytest.raises(RuntimeError, match="aborted"):
        committed.commit()


def test_only_the_recorded_attempt_is_read(wfs):
    """A dead attempt's spills (never committed) and a duplicate's committed runs are on
    disk under other names; merging the recorded reference reads neither."""
    dead = RunWriter(wfs, "req", "0.1", 2, spill_pairs=1)
    dead.add_many([("dead", 1), ("dead", 2)])
    duplicate, winner = RunWriter(wfs, "req", "0.1", 2), RunWriter(wfs, "req", "0.1", 2)
    duplicate.add("loser", 1)
    winner.add("winner", 1)
    duplicate.commit()
    ref = winner.commit()
    assert len({dead.dir, duplicate.dir, winner.dir}) == 3
    assert len(wfs.listdir(shuffle.request_dir("req"))) == 3
    assert merged(wfs, [ref], 2) == {"winner": [1]}


def test_a_missing_run_file_is_an_error_naming_it(wfs):
    writer = RunWriter(wfs, "req", "0.1", 1)
    writer.add("a", 1)
    ref = writer.commit()
    wfs.delete(ref["dir"])
    with pytest.raises(FileNotFoundError) as caught:
        list(merge(wfs, [ref], 0))
    assert f"{ref['dir']}/spill-00000" in str(caught.value)


@pytest.mark.parametrize("key, value, named", [("k", {1, 2}, "value of type set"),
                                               ("k", object(), "value of type object"),
                                               ("k", 2**70, "value of type int")])
def test_unpackable_values_are_refused(wfs, key, value, named):
    writer = RunWriter(wfs, "req", "0.1", 2)
    writer.add(key, value)
    with pytest.raises(ShuffleError, match=named):
        writer.commit()
    assert not wfs.exists(writer.dir + ".tmp")


def test_map_output_must_be_pairs(wfs):
    writer = RunWriter(wfs, "req", "0.1", 2)
    with pytest.raises(ShuffleError, match="pairs"):
        writer.add_many([("a", 1), ("b", 2, 3)])


def test_merge_checks_the_partition(wfs):
    writer = RunWriter(wfs, "req", "0.1", 2)
    ref = writer.commit()
    with pytest.raises(ValueError, match="outside the 2 partitions"):
        merge(wfs, [ref], 2)


def test_the_reference_stays_small():
    """8 spills x 64 partitions of a big attempt still fit easily in one etcd value."""
    ref = {"dir": shuffle.attempt_dir("f" * 32, "0.123.45"), "partitions": 64,
           "pairs": 8_000_000, "bytes": 8 * 2**30, "sizes": [125_000] * 64,
           "spills": [[(p + 1) * 2**24 for p in range(64)] for _ in range(8)]}
    assert len(msgpack.packb(ref)) < 4096


def test_directories_are_per_request_and_unique_per_attempt():
    assert shuffle.request_dir("r1") == ".mr/shuffle/r1"
    first, second = shuffle.attempt_dir("r1", "0.3"), shuffle.attempt_dir("r1", "0.3")
    assert first.startswith(".mr/shuffle/r1/0.3.") and first != second
    for bad in ("", "a/b", "..", "."):
        with pytest.raises(ValueError, match="one path part"):
            shuffle.attempt_dir(bad, "0.1")
        with pytest.raises(ValueError, match="one path part"):
            shuffle.attempt_dir("r1", bad)
