"""Input splits and record readers, on real files: the local backend, fsspec's memory:// and
fsspec's own local filesystem.

The central property: over all the splits of a file, every line is read exactly once, by the
split it starts in, whatever the split size."""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import random
import uuid

import pytest

from mr.data.inputs import BLOCK_BYTES, FORMATS, InputError, read_records
from mr.data.splits import Split, make_splits
from mr.fs import LocalFS
from mr.fs.remote import FsspecFS


@pytest.fixture(params=["local", "memory", "fsspec-file"])
def wfs(request, tmp_path):
    if request.param != "memory":
        yield (LocalFS(tmp_path / "root") if request.param == "local"
               else FsspecFS(f"file://{tmp_path}/root"))
        return
    area = FsspecFS(f"memory://mr-test-{uuid.uuid4().hex}/wf")
    yield area
    bucket = area.root.rsplit("/", 1)[0]
    if area.fs.exists(bucket):
        area.fs.rm(bucket, recursive=True)


def read(wfs, inputs, split_bytes, fmt="text", allow_urls=False):
    """Every record of every split, in split order."""
    return [record for split in make_splits(wfs, inputs, split_bytes, allow_urls)
            for record in read_records(wfs, split, fmt)]


def lines_of(data: bytes) -> list[str]:
    """What a plain read of the file gives: lines without \\n or \\r\\n endings."""
    lines = data.decode("utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def line_starts(data: bytes) -> list[int]:
    return [0] + [i + 1 for i, byte in enumerate(data[:-1]) if byte == 0x0A]


def test_each_split_owns_the_lines_starting_in_it(wfs):
    data = b"alpha\nbe\n\ngamma delta\nepsilon\nz"
    wfs.write_bytes("in.txt", data)
    for size in range(1, len(data) + 2):
        splits = make_splits(wfs, ["in.txt"], size, False)
        assert [(s.start, s.end) for s in splits] == [
            (start, min(start + size, len(data))) for start in range(0, len(data), size)]
        for split in splits:
            owned = [start for start in line_starts(data) if split.start <= start < split.end]
            expected = [lines_of(data)[line_starts(data).index(start)] for start in owned]
            assert list(read_records(wfs, split, "text")) == expected, (size, split)


def test_boundary_right_after_a_newline(wfs):
    wfs.write_bytes("f", b"abc\ndef\nghi\n")
    splits = make_splits(wfs, ["f"], 4, False)
    assert [list(read_records(wfs, s, "text")) for s in splits] == [["abc"], ["def"], ["ghi"]]


def test_boundary_inside_a_multibyte_character(wfs):
    data = "héllo wörld €uro\n𝄞 clef\nnaïve".encode()
    wfs.write_bytes("u.txt", data)
    for size in range(1, len(data) + 1):
        assert read(wfs, ["u.txt"], size) == ["héllo wörld €uro", "𝄞 clef", "naïve"]


def test_one_byte_splits_read_every_line_once(wfs):
    data = b"a\n\nbb\nccc\n\n"
    wfs.write_bytes("f", data)
    assert read(wfs, ["f"], 1) == ["a", "", "bb", "ccc", ""]
    assert b"".join(read(wfs, ["f"], 1, "raw")) == data


def test_empty_file_has_no_splits(wfs):
    wfs.write_bytes("empty", b"")
    wfs.write_bytes("one", b"x\n")
    assert make_splits(wfs, ["empty"], 10, False) == []
    assert make_splits(wfs, ["empty", "one"], 10, False) == [Split("one", 0, 2)]


def test_final_line_without_newline_and_crlf(wfs):
    wfs.write_bytes("f", b"one\r\ntwo\r\n\r\nthree")
    for size in (1, 3, 5, 100):
        assert read(wfs, ["f"], size) == ["one", "two", "", "three"]
        assert b"".join(read(wfs, ["f"], size, "raw")) == b"one\r\ntwo\r\n\r\nthree"


def test_line_longer_than_split_and_block(wfs):
    long = b"x" * (2 * BLOCK_BYTES + 123)
    data = b"short\n" + long + b"\nafter\n" + b"y\n" * 1000
    wfs.write_bytes("f", data)
    for size in (1000, BLOCK_BYTES // 2 + 3, len(data)):
        assert read(wfs, ["f"], size) == lines_of(data)
        blocks = read(wfs, ["f"], size, "raw")
        assert b"".join(blocks) == data
        assert all(block.endswith(b"\n") for block in blocks)
        assert all(len(block) <= BLOCK_BYTES + 1 or long in block for block in blocks)


def test_raw_blocks_stay_near_block_size(wfs):
    data = b"".join(b"%d words here\n" % i for i in range(300_000))
    wfs.write_bytes("big", data)
    blocks = read(wfs, ["big"], len(data), "raw")
    assert b"".join(blocks) == data
    assert len(blocks) > 1 and max(map(len, blocks)) <= BLOCK_BYTES
    assert all(block.endswith(b"\n") for block in blocks)


def random_file(rng: random.Random) -> bytes:
    pieces = []
    for _ in range(rng.randrange(0, 25)):
        length = rng.choice([0, 1, 2, rng.randrange(0, 20), rng.randrange(0, 200)])
        pieces.append("".join(rng.choice("ab é€𝄞 \t") for _ in range(length)))
        pieces.append(rng.choice(["\n", "\n", "\r\n"]))
    if pieces and rng.random() < 0.3:
        pieces.pop()   # no final line ending
    return "".join(pieces).encode()


def test_random_files_and_split_sizes_match_a_plain_read(wfs):
    rng = random.Random(20240517)
    for round_ in range(100):
        data = random_file(rng)
        wfs.write_bytes(f"r/{round_}.txt", data)
        size = rng.choice([1, 2, 3, rng.randrange(1, 64), rng.randrange(1, 4096)])
        assert read(wfs, [f"r/{round_}.txt"], size) == lines_of(data), (round_, size)
        assert b"".join(read(wfs, [f"r/{round_}.txt"], size, "raw")) == data


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_bytes_read_add_up_to_the_file_however_it_is_split(wfs, fmt):
    """What a data request's mr.input_bytes tally sums: each byte once, in every format."""
    rng = random.Random(7)
    data = b"a,b\n" + b"".join(f'{{"{rng.randrange(99)}": 1}}\n'.encode() for _ in range(300))
    wfs.write_bytes("counted.txt", data)
    for size in (1, 7, 64, 5000):
        seen: list[int] = []
        for split in make_splits(wfs, ["counted.txt"], size, False):
            for _ in read_records(wfs, split, fmt, lambda error: None, read=seen.append):
                pass
        assert sum(seen) == len(data), (fmt, size)


COMPRESSORS = {"gz": gzip.compress, "GZIP": gzip.compress, "bz2": bz2.compress,
               "xz": lzma.compress}


@pytest.mark.parametrize("suffix", COMPRESSORS)
def test_a_compressed_file_is_one_split_in_every_format(wfs, suffix):
    rows = [{"n": i, "w": "wörd"} for i in range(2000)]
    data = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    path = f"d/rows.jsonl.{suffix}"
    wfs.write_bytes(path, COMPRESSORS[suffix](data))
    splits = make_splits(wfs, [path], 100, False)
    assert splits == [Split(path, 0, -1)]
    assert list(read_records(wfs, splits[0], "jsonl")) == rows
    assert b"".join(read_records(wfs, splits[0], "raw")) == data
    assert list(read_records(wfs, splits[0], "text")) == lines_of(data)
    with pytest.raises(InputError, match="is read whole"):
        Split(path, 0, 100)


@pytest.mark.parametrize("suffix, name", [("gz", "gzip"), ("bz2", "bzip2"), ("xz", "xz")])
def test_a_compressed_name_on_other_data_is_an_input_error(wfs, suffix, name):
    wfs.write_bytes(f"fake.{suffix}", b"not compressed\n")
    with pytest.raises(InputError, match=f"fake.{suffix} is not a valid {name} file"):
        read(wfs, [f"fake.{suffix}"], 10)
    wfs.write_bytes(f"cut.{suffix}", COMPRESSORS[suffix](b"a whole line\n" * 1000)[:-20])
    with pytest.raises(InputError, match=f"cut.{suffix} is not a valid {name} file"):
        read(wfs, [f"cut.{suffix}"], 10)


@pytest.mark.parametrize("path, name", [("a.zst", "zstd"), ("d/B.LZ4", "LZ4"),
                                        ("x.txt.snappy", "Snappy"), ("y.zip", "zip")])
def test_a_compression_mr_does_not_read_is_refused_saying_so(wfs, path, name):
    wfs.write_bytes(path, b"\x28\xb5\x2f\xfd whatever\n")
    with pytest.raises(InputError, match=f"{path} is {name}-compressed, which mr does not "
                                         f"read: decompress it, or compress it with gzip"):
        make_splits(wfs, [path], 100, False)


def test_directory_is_read_recursively_skipping_hidden_names(wfs):
    for path in ["d/b.txt", "d/a.txt", "d/sub/c.txt", "d/_SUCCESS", "d/.tmp",
                 "d/_logs/x.txt", "d/.git/y.txt", "other.txt"]:
        wfs.write_bytes(path, path.encode() + b"\n")
    assert [s.path for s in make_splits(wfs, ["d"], 100, False)] == [
        "d/a.txt", "d/b.txt", "d/sub/c.txt"]
    assert read(wfs, ["./d/"], 100) == ["d/a.txt", "d/b.txt", "d/sub/c.txt"]
    assert [s.path for s in make_splits(wfs, ["d/_logs"], 100, False)] == ["d/_logs/x.txt"]


def test_a_result_directory_is_read_as_the_parts_its_manifest_lists(wfs):
    """One job reads another's result: its listed parts in partition order, not its manifest,
    nor a part a dead or duplicate reducer attempt left beside them."""
    listed = ["part-00000.aa.jsonl", "part-00001.bb.jsonl"]
    for name in [*listed, "part-00001.cc.jsonl"]:
        wfs.write_bytes(f"results/r1/{name}", f'["{name}", 1]\n'.encode())
    wfs.write_bytes("results/r1/part-00002.dd.jsonl", b"")   # an empty partition's part
    manifest = {"request_id": "r1", "job": "wc",
                "parts": [{"path": f"results/r1/{name}", "partition": index}
                          for index, name in enumerate([*listed, "part-00002.dd.jsonl"])]}
    wfs.write_bytes("results/r1/manifest.json", json.dumps(manifest).encode())
    assert read(wfs, ["results/r1"], 100, "jsonl") == [[name, 1] for name in listed]
    assert read(wfs, ["results"], 100, "jsonl") == [[name, 1] for name in listed]
    wfs.write_bytes("mine/manifest.json", b"not a result's manifest\n")
    wfs.write_bytes("mine/a.txt", b"a\n")
    assert sorted(read(wfs, ["mine"], 100)) == ["a", "not a result's manifest"]
    wfs.delete("results/r1/part-00000.aa.jsonl")
    with pytest.raises(InputError, match="lists part part-00000.aa.jsonl, which is not there"):
        make_splits(wfs, ["results/r1/"], 100, False)


def test_globs(wfs):
    for path in ["logs/2024/a.log", "logs/2024/b.txt", "logs/2025/deep/c.log", "logs/d.log",
                 "logs/_e.log", "logs/.f.log", "logs/2024/g1.log", "logs/2024/g2.log"]:
        wfs.write_bytes(path, b"x\n")

    def paths(pattern):
        return [s.path for s in make_splits(wfs, [pattern], 100, False)]

    assert paths("logs/*.log") == ["logs/d.log"]
    assert paths("logs/_*.log") == ["logs/_e.log"]
    assert paths("logs/*/?.log") == ["logs/2024/a.log"]
    assert paths("logs/2024/g[12].log") == ["logs/2024/g1.log", "logs/2024/g2.log"]
    assert paths("logs/**/*.log") == ["logs/2024/a.log", "logs/2024/g1.log",
                                      "logs/2024/g2.log", "logs/2025/deep/c.log",
                                      "logs/d.log"]
    assert paths("logs/202*") == ["logs/2024/a.log", "logs/2024/b.txt", "logs/2024/g1.log",
                                  "logs/2024/g2.log", "logs/2025/deep/c.log"]
    assert paths("**/c.log") == ["logs/2025/deep/c.log"]


def test_inputs_keep_their_order_and_a_file_is_read_once(wfs):
    wfs.write_bytes("b/1", b"b1\n")
    wfs.write_bytes("a/1", b"a1\n")
    wfs.write_bytes("a/2", b"a2\n")
    assert [s.path for s in make_splits(wfs, ["b", "a/2", "a", "a/*", "b/1", "./a//1"], 100,
                                        False)] == ["b/1", "a/2", "a/1"]


@pytest.mark.parametrize("inputs, message", [
    ([], "non-empty list"),
    (["missing.txt"], "'missing.txt' matches no file"),
    (["*.csv"], r"'\*.csv' matches no file"),
    (["only_hidden"], "'only_hidden' matches no file"),
    (["../x"], "uses '..'"),
    (["a/../../x"], "uses '..'"),
    (["/etc/passwd"], "must be paths inside the workflow's shared filesystem"),
    (["file:///etc/passwd"], "an admin can name URLs in the job definition"),
    (["memory://bucket/x"], "must be paths inside"),
    ([""], "non-empty string"),
])
def test_bad_inputs(wfs, inputs, message):
    wfs.write_bytes("only_hidden/_x", b"x\n")
    with pytest.raises(InputError, match=message):
        make_splits(wfs, inputs, 100, False)


def test_symlink_out_of_the_root_is_refused(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"secret\n")
    wfs = LocalFS(tmp_path / "root")
    wfs.makedirs("d")
    os.symlink(outside, tmp_path / "root" / "d" / "link.txt")
    for pattern in ("d/link.txt", "d", "d/*.txt"):
        with pytest.raises(InputError, match="outside the workflow's root"):
            make_splits(wfs, [pattern], 100, False)


def test_urls_are_read_when_allowed(wfs, tmp_path):
    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / "a.txt").write_bytes(b"file a\nfile b\n")
    (tmp_path / "ext" / "_SUCCESS").write_bytes(b"")
    bucket = f"memory://mr-ext-{uuid.uuid4().hex}"
    remote = FsspecFS(bucket)
    remote.write_bytes("x/1.txt", b"mem 1\n")
    remote.write_bytes("x/2.txt", b"mem 2\n")
    try:
        inputs = [f"file://{tmp_path}/ext", f"{bucket}/x/*.txt", f"{tmp_path}/ext/a.txt"]
        splits = make_splits(wfs, inputs, 7, True)
        assert splits[0] == Split(f"file://{tmp_path}/ext/a.txt", 0, 7)
        assert all("://" in split.path for split in splits)
        assert [line for split in splits for line in read_records(wfs, split, "text")] == [
            "file a", "file b", "mem 1", "mem 2"]
    finally:
        remote.fs.rm(remote.root, recursive=True)


def test_jsonl_skips_blank_lines_and_names_a_bad_one(wfs):
    # blank lines: empty, spaces, a no-break space (\xc2\xa0)
    wfs.write_bytes("ok.jsonl", b'{"a": 1}\n\n  \n\xc2\xa0\n[2, "\xc3\xa9"]\r\n"s"')
    assert read(wfs, ["ok.jsonl"], 3, "jsonl") == [{"a": 1}, [2, "é"], "s"]
    wfs.write_bytes("bad.jsonl", b'{"a": 1}\n{"b": \n3\n')
    with pytest.raises(InputError, match=r"bad.jsonl: the line at byte 9 is not JSON"):
        read(wfs, ["bad.jsonl"], 1000, "jsonl")
    wfs.write_bytes("bad2.jsonl", b'1\r\n2\r\n\r\nnope\n')
    for size in (1, 1000):
        with pytest.raises(InputError, match=r"bad2.jsonl: the line at byte 8 is not JSON"):
            read(wfs, ["bad2.jsonl"], size, "jsonl")
    wfs.write_bytes("bad.jsonl.gz", gzip.compress(b'1\n{\n'))
    with pytest.raises(InputError, match=r"the line at uncompressed byte 2 is not JSON"):
        read(wfs, ["bad.jsonl.gz"], 1000, "jsonl")


TRICKY_JSON = [b'{"a":1,"a":2}', b"18446744073709551617", b"-9223372036854775809",
               b"[1e400, NaN, -Infinity]", b'"\\ud800"', b"12345678901234567890.5", b"-0.0",
               b'{"k": [1, "\xc3\xa9", null, true]}\r']


@pytest.mark.parametrize("block_bytes", [16, 1 << 16])
def test_jsonl_values_are_what_the_json_module_reads(wfs, block_bytes, monkeypatch):
    """orjson reads most blocks; wherever it would read differently (an int past 64 bits,
    NaN, a lone surrogate) the json module does, line by line or for the whole block."""
    monkeypatch.setattr("mr.data.inputs._LINE_BLOCK_BYTES", block_bytes)
    wfs.write_bytes("tricky.jsonl", b"\n".join([b"1", *TRICKY_JSON, b"", b"2"]) + b"\n")
    values = read(wfs, ["tricky.jsonl"], 1000, "jsonl")
    expected = [1, *(json.loads(line.decode()) for line in TRICKY_JSON), 2]
    assert repr(values) == repr(expected)   # repr: 2**64 + 1 as an int, not a float equal to it


def test_jsonl_must_be_utf8_and_says_where(wfs):
    wfs.write_bytes("latin1.jsonl", b'"fine"\n"caf\xe9"\n')
    with pytest.raises(InputError, match=r"latin1.jsonl: the line at byte 7 is not UTF-8"):
        read(wfs, ["latin1.jsonl"], 1000, "jsonl")


def test_text_must_be_utf8(wfs):
    wfs.write_bytes("latin1.txt", b"fine\ncaf\xe9\n")
    with pytest.raises(InputError, match=r"latin1.txt: the line at byte 5 is not UTF-8.*'raw'"):
        read(wfs, ["latin1.txt"], 1000)
    assert read(wfs, ["latin1.txt"], 1000, "raw") == [b"fine\ncaf\xe9\n"]


@pytest.mark.parametrize("split_bytes", [1, 1000])
def test_malformed_lines_may_be_skipped_each_said(wfs, split_bytes):
    wfs.write_bytes("dirty.jsonl", b'1\n{"b": \n\n"caf\xe9"\r\n[2]\r\n  \nnope')
    wfs.write_bytes("dirty.txt", b"fine\ncaf\xe9\r\nok\r\n\xff\nlast")
    said: list[str] = []

    def skipping(inputs, fmt):
        return [record for split in make_splits(wfs, inputs, split_bytes, False)
                for record in read_records(wfs, split, fmt, lambda e: said.append(str(e)))]
    assert skipping(["dirty.jsonl"], "jsonl") == [1, [2]]
    assert said == ["input dirty.jsonl: the line at byte 2 is not JSON: Expecting value: "
                    "line 1 column 7 (char 6)",
                    "input dirty.jsonl: the line at byte 10 is not UTF-8 (invalid continuation "
                    "byte); read non-UTF-8 data with format 'raw'",
                    "input dirty.jsonl: the line at byte 26 is not JSON: Expecting value: "
                    "line 1 column 1 (char 0)"]
    said.clear()
    assert skipping(["dirty.txt"], "text") == ["fine", "ok", "last"]
    assert [e.split(" is ")[0] for e in said] == ["input dirty.txt: the line at byte 5",
                                                  "input dirty.txt: the line at byte 15"]


def test_csv_rows_are_what_csv_reads_whatever_the_split_size(wfs):
    """Each file's header names the fields of every split's rows: quoted commas, doubled
    quotes, CRLF, a byte-order mark, blank lines, no final newline."""
    rng = random.Random(5)
    cells = ["plain", "with, comma", 'say "hi"', "", "naïve 日本", " spaced "]
    rows = [{"id": str(n), "city": rng.choice(cells), "note": rng.choice(cells)}
            for n in range(60)]
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, ["id", "city", "note"], lineterminator="\r\n")
    writer.writeheader()
    for index, row in enumerate(rows):
        writer.writerow(row)
        if index % 17 == 0:
            buffer.write("\r\n")
    data = buffer.getvalue().rstrip("\r\n")
    wfs.write_bytes("t/a.csv", b"\xef\xbb\xbf" + data.encode())
    wfs.write_bytes("t/b.csv.gz", gzip.compress(b"id,city,note\n1,x,y\n"))
    expected = rows + [{"id": "1", "city": "x", "note": "y"}]
    for size in (1, 7, 100, 10_000):
        assert read(wfs, ["t/a.csv", "t/b.csv.gz"], size, "csv") == expected, size


def test_a_csv_line_that_is_not_a_row_is_said_or_skipped(wfs):
    wfs.write_bytes("m.csv", b'a,b\n1,2\n3\n"open,4\nstill",5\n6,\xff\n7,8\n')
    with pytest.raises(InputError, match=r"m.csv: the line at byte 8 has 1 CSV fields, its "
                                         r"header 2"):
        read(wfs, ["m.csv"], 1000, "csv")
    said: list[str] = []
    got = [row for split in make_splits(wfs, ["m.csv"], 3, False)
           for row in read_records(wfs, split, "csv", lambda e: said.append(str(e)))]
    # a quote inside an unquoted field is kept, as the csv module keeps it
    assert got == [{"a": "1", "b": "2"}, {"a": 'still"', "b": "5"}, {"a": "7", "b": "8"}]
    assert [e.split(" (")[0] for e in said] == [
        "input m.csv: the line at byte 8 has 1 CSV fields, its header 2",
        "input m.csv: the line at byte 10 is not a CSV row",
        "input m.csv: the line at byte 27 is not UTF-8"]


@pytest.mark.parametrize("head, says", [(b"\n", "header, is empty"),
                                        (b"a,b,a\n", "names a more than once"),
                                        (b'"a,b\n', "is not a CSV header")])
def test_a_csv_file_needs_a_header(wfs, head, says):
    wfs.write_bytes("h.csv", head + b"1,2\n" * 20)
    for size in (1000, 5):
        with pytest.raises(InputError, match=says):
            read(wfs, ["h.csv"], size, "csv")


def test_unknown_format_and_bad_split_size(wfs):
    wfs.write_bytes("f", b"x\n")
    with pytest.raises(InputError, match="text, jsonl, csv, raw"):
        read_records(wfs, Split("f", 0, 2), "tsv")
    assert FORMATS == ("text", "jsonl", "csv", "raw")
    for size in (0, -5, True, 1.5):
        with pytest.raises(InputError, match="split_bytes"):
            make_splits(wfs, ["f"], size, False)


def test_a_file_gone_since_the_splits_were_made(wfs):
    with pytest.raises(InputError, match="cannot open input gone.txt"):
        list(read_records(wfs, Split("gone.txt", 0, 10), "text"))


def test_split_record_round_trip():
    for split in (Split("a/b.txt", 0, 10), Split("s3://b/k.gz", 0, -1)):
        assert Split.from_record(split.to_record()) == split
    assert Split("x", 5, 9).to_record() == {"path": "x", "start": 5, "end": 9}


@pytest.mark.parametrize("record", [
    None, [], {}, {"path": "x", "start": 0}, {"path": "x", "start": 0, "end": 5, "more": 1},
    {"path": "", "start": 0, "end": 5}, {"path": 3, "start": 0, "end": 5},
    {"path": "x", "start": "0", "end": 5}, {"path": "x", "start": True, "end": 5},
    {"path": "x", "start": -1, "end": 5}, {"path": "x", "start": 5, "end": 5},
    {"path": "x", "start": 3, "end": -1}, {"path": "x.gz", "start": 0, "end": 10},
])
def test_malformed_split_record(record):
    with pytest.raises(InputError):
        Split.from_record(record)
