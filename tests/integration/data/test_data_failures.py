"""Data jobs under failure, on real processes: a worker SIGKILLed mid-map and mid-reduce, a
split run twice (a frozen worker's message taken over), and a full shared disk. Each ends
with the exact result or a clear failure, never a mixed one, and leaves no shuffle files."""
from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import requests

from mr.cluster import wait_for
from mr.engine import registry
from mr.queue import messages
from mr.queue.publisher import Publisher
from mr.queue.topics import topic
from tests.integration.data.conftest import engine_tallies, handler_tallies
from tests.integration.data.test_data_jobs import all_pairs, shuffle_dir, write_corpus
from tests.support import chaos


def start(data, job: str, inputs: list, **fields) -> str:
    reply = requests.post(f"{data.web.url}/job/{data.wf}/{job}",
                          params={"blocking": "false"},
                          json={"arguments": {}, "inputs": inputs, **fields}, timeout=30)
    assert reply.status_code == 202, reply.text
    return reply.json()["request_id"]


def held(data, kind: str) -> list[Path]:
    """The marks of handlers waiting in held/ (`kind`: map or reduce)."""
    folder = data.shared / "held"
    return sorted(folder.glob(f"{kind}-*")) if folder.exists() else []


def worker_of(data, mark: Path):
    """The worker whose handler wrote `mark` (in a data process of that worker's)."""
    pid = pid_of(mark)
    workers = {w.pid: w for w in data.workers}
    while pid not in workers:
        pid = chaos.parent_pid(pid)
    return workers[pid]


def pid_of(mark: Path) -> int:
    return int(mark.name.rsplit(".", 1)[1])


def worker_id_of(data, worker) -> str:
    return next(info["id"] for info in registry.live_workers(data.kv)
                if f"-{worker.pid}-" in info["id"])


@pytest.fixture
def release(data):
    """Clear held/ before and after a test, so no handler stays held."""
    folder = data.shared / "held"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    yield folder
    (folder / "go").touch()
    (folder / "go-reduce").touch()


def finish(data, request_id: str, expected: Counter) -> None:
    """The request is done with the exact result, its tallies count each word and each key
    once (only the runs that committed count), and its shuffle files are gone."""
    body = data.wait_ended(data.wf, request_id, timeout=90)
    assert body["state"] == "done", body
    assert dict(all_pairs(data, request_id, limit=500)) == dict(expected)
    assert handler_tallies(body) == {"keys": len(expected), "words": sum(expected.values())}
    assert engine_tallies(body)["mr.output_pairs"] == len(expected), body
    wait_for(lambda: not shuffle_dir(data, request_id).exists(), timeout=10,
             message="shuffle files removed")


def finish_map_only(data, request_id: str, expected: Counter) -> None:
    """A map-only word count (held_words without a reducer) is done with each word's every
    occurrence once, split by split, and one part per split: none left by a run that lost."""
    body = data.wait_ended(data.wf, request_id, timeout=90)
    assert body["state"] == "done", body
    pairs = all_pairs(data, request_id, limit=500)
    assert Counter(word for word, _ in pairs) == expected
    assert handler_tallies(body) == {"words": sum(expected.values())}, body
    assert engine_tallies(body)["mr.output_pairs"] == sum(expected.values()), body
    results = data.shared / "results" / request_id
    parts = sorted(path.name.split(".")[0] for path in results.glob("part-*"))
    assert parts == [f"part-{n:05d}" for n in range(body["counts"]["done"] - 2)], parts


@pytest.mark.parametrize("job, kind, go", [("held_map", "map", "go"),
                                             ("held_reduce", "reduce", "go-reduce"),
                                             ("held_map_only", "map", "go")])
def test_sigkill_mid_map_and_mid_reduce(data, release, job, kind, go):
    """The worker running a split's mapper (or a partition's reducer) is SIGKILLed there."""
    expected = write_corpus(data.shared / f"kill_{job}", seed=len(kind))
    request_id = start(data, job, [f"kill_{job}/*.txt"], split_bytes=2000)
    mark = wait_for(lambda: next(iter(held(data, kind)), None), timeout=30,
                    message=f"a {kind} handler running")
    chaos.sigkill(worker_of(data, mark))
    wait_for(lambda: not chaos.running(pid_of(mark)), timeout=10,
             message="the killed worker's data process killed with it")
    data.start_workers(1)
    (release / go).touch()
    (finish_map_only if job == "held_map_only" else finish)(data, request_id, expected)


@pytest.mark.parametrize("job", ["held_map", "held_map_only"])
def test_a_split_run_twice_counts_once(data, release, job):
    """Two runs of one split: its worker frozen until its registration lapses, a copy of the
    split's message taken by the other worker, then the first thawed; both finish their map.
    Only the run whose output committed first is read; the other's files are removed."""
    expected = write_corpus(data.shared / f"twice_{job}", seed=13, files=1)
    request_id = start(data, job, [f"twice_{job}/*.txt"])          # one split
    first = wait_for(lambda: next(iter(held(data, "map")), None), timeout=30,
                     message="the split's mapper running")
    iid = first.name.split("-", 1)[1].rsplit(".", 1)[0]
    frozen = worker_of(data, first)
    frozen_id = worker_id_of(data, frozen)
    chaos.freeze(frozen)
    try:
        wait_for(lambda: not registry.is_alive(data.kv, frozen_id), timeout=30,
                 message="the frozen worker's registration lapsed")
        Publisher([data.broker.http_address]).publish(
            topic(data.wf, "general", data_plane=True),
            messages.encode(data.wf, request_id, iid))
        wait_for(lambda: len(held(data, "map")) == 2, timeout=30,
                 message="the split run again by the other worker")
    finally:
        (release / "go").touch()
        chaos.thaw(frozen)
    (finish_map_only if job == "held_map_only" else finish)(data, request_id, expected)


def test_a_partition_delivered_twice_is_reduced_once(data, release):
    """Copies of a running partition reducer's message reach the workers while it runs (a
    data-plane run is claimed only once it has run a while, so a copy may run it again) and
    after it is done (none runs it again): the result counts each partition once, and the
    part files of the runs that lost are removed."""
    expected = write_corpus(data.shared / "dup_reduce", seed=15)
    request_id = start(data, "held_reduce", ["dup_reduce/*.txt"], split_bytes=2000)
    first = wait_for(lambda: next(iter(held(data, "reduce")), None), timeout=30,
                     message="a partition's reducer running")
    iid = first.name.split("-", 1)[1].rsplit(".", 1)[0]
    data_topic = topic(data.wf, "general", data_plane=True)

    def publish_copies() -> None:
        for _ in range(3):
            chaos.publish_raw(data.broker.http_address, data_topic,
                              messages.encode(data.wf, request_id, iid))

    def consumed() -> bool:
        channel = chaos.channel_stats(data.broker.http_address, data_topic, "workers")
        return channel.get("depth") == 0 and channel.get("in_flight_count") == 0

    publish_copies()
    (release / "go-reduce").touch()
    finish(data, request_id, expected)
    wait_for(consumed, timeout=30, message="every copy taken and finished")
    parts = sorted(p.name for p in (data.shared / "results" / request_id).glob("part-*"))
    assert [name.split(".")[0] for name in parts] == ["part-00000", "part-00001"], parts
    runs = len(held(data, "reduce"))
    publish_copies()
    wait_for(consumed, timeout=30, message="the copies sent after the end taken")
    assert len(held(data, "reduce")) == runs   # a done partition is not reduced again


def test_a_full_shared_disk_fails_the_request_clearly(data, release, tmp_path):
    folder = data.shared / "full"
    folder.mkdir()
    words = [f"word{n}" for n in range(40_000)]      # map output far over the 16 KiB below
    (folder / "many.txt").write_text("\n".join(words))
    expected = Counter(words)
    area = data.shared / ".mr" / "shuffle"
    area.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(area)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        reply = requests.post(f"{data.web.url}/job/{data.wf}/wc",
                              json={"arguments": {}, "inputs": ["full/*.txt"]}, timeout=90)
        assert reply.status_code == 507, reply.text
        failure = reply.json()["failure"]
        assert failure["reason"] == "storage"
        assert "shared filesystem is full" in failure["message"]
        assert "free space" in failure["message"]
        assert list(area.iterdir()) in ([], [area / reply.json()["request_id"]])
        leftovers = [p for p in area.rglob("*") if p.is_file()]
        assert leftovers == [], leftovers     # the failed attempts removed their files
    finally:
        subprocess.run(["umount", str(area)], check=True)
    retried = requests.post(f"{data.web.url}/request/{data.wf}/{reply.json()['request_id']}"
                            f"/retry", params={"blocking": "true"}, timeout=90)
    assert retried.status_code == 200, retried.text
    assert dict(all_pairs(data, reply.json()["request_id"], limit=1000)) == dict(expected)


def test_a_retry_runs_a_failed_map_only_split_again(data):
    """The splits done before the failure keep their parts; the failed one runs again, and
    the result is whole and in order, each line tallied once."""
    folder = data.shared / "flaky"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    lines = [f"line {n}" for n in range(300)]
    lines[150] = "boom"
    (folder / "in.txt").write_text("\n".join(lines) + "\n")
    reply = requests.post(f"{data.web.url}/job/{data.wf}/shout",
                          json={"arguments": {}, "inputs": ["flaky/in.txt"],
                                "split_bytes": 400}, timeout=90)
    assert reply.status_code == 500, reply.text
    assert "boom, on purpose" in reply.json()["failure"]["message"]
    request_id = reply.json()["request_id"]
    (folder / "fixed").touch()
    retried = requests.post(f"{data.web.url}/request/{data.wf}/{request_id}/retry",
                            params={"blocking": "true"}, timeout=90)
    assert retried.status_code == 200, retried.text
    assert all_pairs(data, request_id, limit=100) == [[line.upper(), len(line)]
                                                      for line in lines]
    assert handler_tallies(data.wait_ended(data.wf, request_id)) == {"lines": len(lines)}
