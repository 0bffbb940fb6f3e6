"""Data jobs end to end on real processes: input files cut into splits by the engine, a
partitioned shuffle through the shared filesystem, part-file results read a page at a time,
and the bad inputs a user can send."""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import random
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import requests

from mr.cluster import wait_for
from mr.kv import keys
from tests.integration.data.conftest import engine_tallies, handler_tallies
from tests.support.cluster import unique

WORDS = ["alpha", "beta", "gamma", "delta", "épée", "naïve", "日本語", "x", "zeta", "ωμέγα"]


def write_corpus(directory: Path, seed: int, files: int = 3, lines: int = 400) -> Counter:
    """Text files with the awkward cases (no final newline, an empty file, multi-byte words,
    blank lines, long lines); the plain count they must give."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    expected: Counter = Counter()
    for index in range(files):
        text_lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 30)))
                      for _ in range(lines)]
        text = "\n".join(text_lines)            # no final newline
        (directory / f"part{index}.txt").write_text(text, encoding="utf-8")
        expected.update(text.split())
    (directory / "empty.txt").write_text("")
    return expected


def post(data, job: str, inputs: list | None = None, **fields) -> requests.Response:
    body = {"arguments": {}, **fields}
    if inputs is not None:
        body["inputs"] = inputs
    return requests.post(f"{data.web.url}/job/{data.wf}/{job}", json=body, timeout=120)


def all_pairs(data, request_id: str, limit: int = 7) -> list:
    """Every pair of a result, through the paged endpoint."""
    found, offset = [], 0
    while offset is not None:
        page = requests.get(f"{data.web.url}/request/{data.wf}/{request_id}/result",
                            params={"offset": offset, "limit": limit}, timeout=30)
        assert page.status_code == 200, page.text
        found += page.json()["pairs"]
        offset = page.json()["next"]
    return found


def shuffle_dir(data, request_id: str) -> Path:
    return data.shared / ".mr" / "shuffle" / request_id


def test_word_count_over_many_small_splits_equals_a_plain_count(data):
    expected = write_corpus(data.shared / "wc", seed=1)
    reply = post(data, "wc_file", ["wc/*.txt"], split_bytes=97)   # splits cut lines and chars
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["counts"]["done"] > 3 * 100     # hundreds of splits, each its own invocation
    manifest = json.loads(Path(body["result_path"]).read_text())
    assert [part["partition"] for part in manifest["parts"]] == [0, 1, 2]
    assert manifest["pairs"] == len(expected)
    pairs = all_pairs(data, body["request_id"])
    assert dict(pairs) == dict(expected)
    assert len(pairs) == len(expected)            # each word once
    counted = engine_tallies(body)                # every byte read once, however cut
    corpus = sum(path.stat().st_size for path in (data.shared / "wc").iterdir())
    assert counted["mr.input_bytes"] == corpus
    assert counted["mr.shuffled_pairs"] >= len(expected) and counted["mr.shuffled_bytes"] > 0
    assert counted["mr.output_pairs"] == len(expected)
    assert counted["mr.output_bytes"] == sum(part["bytes"] for part in manifest["parts"])
    for part in manifest["parts"]:                 # keys sorted within each partition
        lines = (data.shared / part["path"]).read_text(encoding="utf-8").splitlines()
        keys_in_part = [json.loads(line)[0] for line in lines]
        assert keys_in_part == sorted(keys_in_part)
    streamed = subprocess.run(["mr_request_result", data.wf, body["request_id"]],
                              env={**os.environ, **data.env}, capture_output=True, text=True,
                              timeout=60)
    assert streamed.returncode == 0, streamed.stderr
    assert [json.loads(line) for line in streamed.stdout.splitlines()] == pairs
    window = subprocess.run(["mr_request_result", data.wf, body["request_id"], "--offset", "5",
                             "--limit", "3"], env={**os.environ, **data.env},
                            capture_output=True, text=True, timeout=60)
    assert [json.loads(line) for line in window.stdout.splitlines()] == pairs[5:8]
    wait_for(lambda: not shuffle_dir(data, body["request_id"]).exists(), timeout=10,
             message="shuffle files removed with the done request")
    wait_for(lambda: data.kv.count(keys.request_data(data.wf, body["request_id"])) == 0,
             timeout=10, message="the done request's keys deleted (a page at a time)")


@pytest.mark.parametrize("job", ["wc_one", "wc_many"])
def test_one_partition_and_more_partitions_than_splits(data, job):
    expected = write_corpus(data.shared / job, seed=2, files=1, lines=50)
    reply = post(data, job, [job])                 # a directory; one split per file
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert dict(body["result"]) == dict(expected)  # small: inline as well as in parts
    manifest = json.loads(Path(body["result_path"]).read_text())
    assert len(manifest["parts"]) == (1 if job == "wc_one" else 16)


def test_bulk_mapper_with_combiner_gzip_and_no_final_newline(data):
    folder = data.shared / "bulk"
    expected = write_corpus(folder, seed=3, files=2)
    text = "épée naïve\nx x x\nlast line without newline"
    with gzip.open(folder / "extra.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write(text)
    expected.update(text.split())
    reply = post(data, "wc_bulk", ["bulk/*.txt", "bulk/*.gz"], split_bytes=1000)
    assert reply.status_code == 200, reply.text
    assert dict(all_pairs(data, reply.json()["request_id"], limit=1000)) == dict(expected)
    plain = sum(path.stat().st_size for path in folder.glob("*.txt"))
    assert engine_tallies(reply.json())["mr.input_bytes"] == plain + len(text.encode())


def test_bzip2_and_xz_files_are_read_and_zstd_is_refused(data):
    folder = data.shared / "packed"
    expected = write_corpus(folder, seed=8, files=1)
    for suffix, compress in (("bz2", bz2.compress), ("xz", lzma.compress)):
        text = f"{suffix} épée\nlast {suffix} line without newline"
        (folder / f"extra.txt.{suffix}").write_bytes(compress(text.encode()))
        expected.update(text.split())
    reply = post(data, "wc", ["packed"], split_bytes=1000)
    assert reply.status_code == 200, reply.text
    assert dict(all_pairs(data, reply.json()["request_id"], limit=1000)) == dict(expected)
    (folder / "more.txt.zst").write_bytes(b"\x28\xb5\x2f\xfd")
    reply = post(data, "wc", ["packed"])
    assert reply.status_code == 422, reply.text
    assert "packed/more.txt.zst is zstd-compressed" in reply.json()["error"]


def test_a_job_reads_another_jobs_result(data):
    expected = write_corpus(data.shared / "chain", seed=9)
    first = post(data, "wc", ["chain"], split_bytes=1000)
    assert first.status_code == 200, first.text
    counted = first.json()["request_id"]
    # what a reducer attempt that lost could leave beside the parts: never read
    (data.shared / "results" / counted / "part-00000.stray.jsonl").write_text('["x", 1000]\n')
    totals = {"words": sum(expected.values()), "distinct": len(expected)}
    second = post(data, "totals", [f"results/{counted}"])
    assert second.status_code == 200, second.text
    assert dict(all_pairs(data, second.json()["request_id"])) == totals
    # the same by the request's id, and by its name
    named = unique("counted")
    first_named = requests.post(f"{data.web.url}/job/{data.wf}/wc", params={"name": named},
                                json={"arguments": {}, "inputs": ["chain"]}, timeout=60)
    assert first_named.status_code == 200, first_named.text
    for reference in (f"result:{counted}", f"result:{named}"):
        third = post(data, "totals", [reference])
        assert third.status_code == 200, third.text
        assert dict(all_pairs(data, third.json()["request_id"])) == totals


def test_a_result_input_must_be_a_done_data_requests(data):
    (data.shared / "bad_sales").mkdir(parents=True, exist_ok=True)
    (data.shared / "bad_sales" / "a.csv").write_text("city,cents\nOslo,1,2\n")
    failed = post(data, "by_city", ["bad_sales"])
    assert failed.status_code == 422, failed.text
    failed_id = failed.json()["request_id"]
    plain = post(data, "plain", arguments={"a": 1})
    assert plain.status_code == 200, plain.text
    for reference, status, says in (
            ("result:no-such-name", 422, "has the name or id 'no-such-name'"),
            (f"result:{failed_id}", 409, f"request {failed_id} is failed; only a done"),
            (f"result:{plain.json()['request_id']}", 422, "is not a data job's")):
        reply = post(data, "totals", [reference])
        assert reply.status_code == status, reply.text
        assert says in reply.json()["error"], reply.text


def test_a_group_by_over_csv_files_each_with_its_header(data):
    """Columns in another order in each file, quoted commas, CRLF, a gzip file."""
    folder = data.shared / "sales"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(31)
    cities = ["Oslo", "São Paulo", "Washington, D.C.", 'The "Big" Apple']
    expected: Counter = Counter()
    for name, columns in (("a.csv", ["city", "cents", "id"]), ("b.csv", ["id", "cents", "city"]),
                          ("c.csv.gz", ["cents", "city", "id"])):
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, columns, lineterminator="\r\n")
        writer.writeheader()
        for n in range(300):
            row = {"id": n, "city": rng.choice(cities), "cents": rng.randint(1, 10_000)}
            writer.writerow(row)
            expected[row["city"]] += row["cents"]
        data_bytes = buffer.getvalue().encode()
        (folder / name).write_bytes(gzip.compress(data_bytes) if name.endswith(".gz")
                                    else data_bytes)
    reply = post(data, "by_city", ["sales"], split_bytes=500)
    assert reply.status_code == 200, reply.text
    assert dict(all_pairs(data, reply.json()["request_id"])) == dict(expected)


def test_a_map_only_job_writes_each_splits_pairs_in_input_order(data):
    """No reducer: every split's pairs are a part of the result, nothing is shuffled, and
    the result keeps the input's order, across files and splits."""
    folder = data.shared / "etl"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(21)
    expected, dropped = [], 0
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        rows = [{"id": f"{name[0]}{n}", "name": f"  {rng.choice(WORDS)} {rng.choice(WORDS)} ",
                 "amount": rng.randint(-500, 5000) / 100} for n in range(150)]
        (folder / name).write_text("".join(json.dumps(row) + "\n" for row in rows))
        for row in rows:
            if row["amount"] < 0:
                dropped += 1
                continue
            expected.append([row["id"], {"name": row["name"].strip().title(),
                                         "cents": round(row["amount"] * 100)}])
    reply = post(data, "clean", ["etl/*.jsonl"], split_bytes=700)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert all_pairs(data, body["request_id"], limit=100) == expected
    assert handler_tallies(body) == {"kept": len(expected), "dropped": dropped}
    assert engine_tallies(body)["mr.output_pairs"] == len(expected)
    manifest = json.loads(Path(body["result_path"]).read_text())
    splits = body["counts"]["done"] - 2        # the root and its reduction gather the parts
    assert splits > 3 * 10
    assert [part["partition"] for part in manifest["parts"]] == list(range(splits))
    assert manifest["pairs"] == len(expected)
    assert not shuffle_dir(data, body["request_id"]).exists()
    streamed = subprocess.run(["mr_request_result", data.wf, body["request_id"]],
                              env={**os.environ, **data.env}, capture_output=True, text=True,
                              timeout=60)
    assert [json.loads(line) for line in streamed.stdout.splitlines()] == expected


def test_a_map_only_bulk_mapper_writes_its_mapping_per_split(data):
    expected = write_corpus(data.shared / "per_split", seed=22, files=2)
    reply = post(data, "split_counts", ["per_split"], split_bytes=2000)
    assert reply.status_code == 200, reply.text
    pairs = all_pairs(data, reply.json()["request_id"], limit=1000)
    summed: Counter = Counter()
    for word, count in pairs:
        summed[word] += count
    assert summed == expected
    assert len(pairs) > len(expected)          # one count per word per split, not merged


def test_a_mapper_may_skip_malformed_lines_and_tally_them(data):
    (data.shared / "dirty").mkdir(parents=True, exist_ok=True)
    (data.shared / "dirty" / "a.jsonl").write_bytes(
        b'{"text": "one two"}\n{"text": \n{"text": "caf\xe9"}\n{"text": "two"}\n')
    reply = requests.post(f"{data.web.url}/job/{data.wf}/tolerant",
                          params={"name": unique("dirty")},
                          json={"arguments": {}, "inputs": ["dirty/a.jsonl"]}, timeout=60)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert dict(all_pairs(data, body["request_id"])) == {"one": 1, "two": 2}
    assert handler_tallies(body) == {"keys": 2, "malformed_lines": 2}
    split = requests.get(f"{data.web.url}/request/{data.wf}/{body['request_id']}/invocation/0.0",
                         timeout=30).json()
    assert "skipped: input dirty/a.jsonl: the line at byte 20 is not JSON" in split["log"]
    assert "the line at byte 30 is not UTF-8" in split["log"]


def test_a_mapper_tells_its_inputs_apart_for_a_join(data):
    """ctx.split names the file a split reads: a reduce-side join of two inputs."""
    folder = data.shared / "join"
    folder.mkdir(parents=True, exist_ok=True)
    customers = {1: "ann", 2: "bob", 3: "cy"}
    orders = [(1, 5), (2, 7), (1, 11), (4, 2), (2, 1), (1, 3)]
    (folder / "customers.jsonl").write_text("".join(
        json.dumps({"id": cid, "name": name}) + "\n" for cid, name in customers.items()))
    (folder / "orders.jsonl").write_text("".join(
        json.dumps({"customer": cid, "amount": amount}) + "\n" for cid, amount in orders))
    reply = post(data, "join", ["join/customers.jsonl", "join/orders.jsonl"], split_bytes=60)
    assert reply.status_code == 200, reply.text
    assert dict(all_pairs(data, reply.json()["request_id"])) == {
        1: ["ann", 19], 2: ["bob", 8], 3: ["cy", 0], 4: [None, 2]}


def test_inverted_index_over_json_lines(data):
    rng = random.Random(4)
    docs = [{"id": n, "text": " ".join(rng.choice(WORDS) for _ in range(8))}
            for n in range(300)]
    (data.shared / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    expected: dict[str, list[int]] = {}
    for doc in docs:
        for word in set(doc["text"].split()):
            expected.setdefault(word, []).append(doc["id"])
    reply = post(data, "index", ["docs.jsonl"], split_bytes=500)
    assert reply.status_code == 200, reply.text
    assert dict(all_pairs(data, reply.json()["request_id"])) == {
        word: sorted(ids) for word, ids in expected.items()}


def test_a_key_too_big_to_hold_streams_through_in_split_order(data):
    """Every document holds "all": its id list packs to over 64 KiB in each of 12 splits (so
    it stays packed until read) and has 300,000 ids in all (written a slice at a time). The
    reducer only chains a word's lists: sorted ids prove they come in the splits' order, also
    past split 10 (etcd's key order puts .10 before .2)."""
    docs = 300_000
    lines = "".join(json.dumps({"id": n, "text": f"all w{n % 7}"}) + "\n" for n in range(docs))
    (data.shared / "many.jsonl").write_text(lines)
    split_bytes = len(lines) // 12 + 1
    reply = post(data, "index_streamed", ["many.jsonl"], split_bytes=split_bytes)
    assert reply.status_code == 200, reply.text
    got = dict(all_pairs(data, reply.json()["request_id"], limit=1000))
    assert got == {"all": list(range(docs)),
                   **{f"w{k}": list(range(k, docs, 7)) for k in range(7)}}


@pytest.mark.parametrize("inputs, fields, status, says", [
    (None, {}, 422, "names none"),
    (["/etc/passwd"], {}, 422, "inside the workflow's shared filesystem"),
    (["file:///etc/passwd"], {}, 422, "URLs and other places are named in the job"),
    (["../outside/*.txt"], {}, 422, "no '..'"),
    ("wc/*.txt", {}, 422, "non-empty list of paths"),
    (["wc/*.txt"], {"split_bytes": 0}, 422, "split_bytes"),
    (["wc/*.txt"], {"split_bytes": "big"}, 422, "split_bytes"),
    (["wc/*.txt"], {"sideways": 1}, 400, "unknown field"),
])
def test_bad_inputs_are_refused_before_anything_runs(data, inputs, fields, status, says):
    reply = post(data, "wc", inputs, **fields)
    assert reply.status_code == status, reply.text
    assert says in reply.json()["error"]


def test_inputs_that_match_nothing_fail_the_request_saying_which(data):
    reply = post(data, "wc", ["nothing/here-*.txt"])
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["failure"]["reason"] == "input"
    assert "nothing/here-*.txt" in body["error"]


def test_a_job_without_input_files_refuses_inputs(data):
    reply = post(data, "plain", ["wc/*.txt"])
    assert reply.status_code == 422, reply.text
    assert "does not read input files" in reply.json()["error"]


def test_result_pages_check_their_parameters(data):
    write_corpus(data.shared / "pages", seed=5, files=1, lines=20)
    reply = post(data, "wc", ["pages"])
    assert reply.status_code == 200, reply.text
    url = f"{data.web.url}/request/{data.wf}/{reply.json()['request_id']}/result"
    assert requests.get(url, params={"limit": 0}, timeout=10).status_code == 400
    assert requests.get(url, params={"offset": "x"}, timeout=10).status_code == 400
    beyond = requests.get(url, params={"offset": 10 ** 6}, timeout=10).json()
    assert beyond["pairs"] == [] and beyond["next"] is None
