"""The sweeper's stall check against a real etcd and broker: few etcd calls per pass, however
many requests run, and the same verdicts as reading every request's newest write each pass."""
import json
import urllib.request
from collections import Counter

import pytest

from mr.config import Settings
from mr.engine import protocol, request_protocol
from mr.engine.sweeper import Sweeper
from mr.handlers import sync
from mr.handlers.library import Library
from mr.kv import client, entities, keys
from mr.kv.models import Invocation, Request, Step, Workflow
from mr.queue.publisher import Publisher
from mr.queue.topics import topic
from tests.support.broker import running_broker
from tests.support.cluster import REPO, unique

STALL_S = 100.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with running_broker(tmp_path_factory.mktemp("sweeper")) as server:
        yield server


@pytest.fixture
def swept(kv, broker):
    """A workflow with the `letters` step, and a sweeper for it (driven by the test's clock)."""
    wf = unique("sweep")
    entities.create_workflow(kv, Workflow(wf, "sweeper stall checks"))
    sync.apply(kv, wf, sync.plan(kv, wf, REPO / "tests" / "handlers"))
    entities.save(kv, Step(wf, "letters", "letters", "sum_values"))
    library = Library(kv, wf, compile_code=False).start()
    sweeper = Sweeper(kv, Publisher([broker.http_address]), {wf: library}, "sweeper-test",
                      Settings(stall_s=STALL_S), worker_alive=lambda worker: False)
    yield wf, sweeper
    library.stop()


def running(kv, wf: str, count: int) -> list[str]:
    """`count` running requests whose root invocation is queued (its message was lost)."""
    rids = [unique("r") for _ in range(count)]
    for rid in rids:
        request = Request(workflow=wf, id=rid, job="letters", arguments={"text": "ab"})
        assert request_protocol.create_request(
            kv, request, Invocation(id="0", step="letters", arguments=request.arguments))
    return rids


def published(broker, wf: str) -> int:
    """Messages the broker took on the workflow's `general` topic."""
    url = broker.url(f"/stats?format=json&topic={topic(wf, 'general')}")
    with urllib.request.urlopen(url, timeout=5) as reply:
        topics = json.load(reply)["topics"]
    return topics[0]["message_count"] if topics else 0


def progress(kv, wf: str, rid: str) -> None:
    """A write under the request, as a worker's progress makes."""
    entry = kv.get(keys.invocation(wf, rid, "0"))
    kv.put(entry.key, entry.value)


def calls_of(monkeypatch) -> Counter:
    counted: Counter = Counter()
    monkeypatch.setattr(client, "observer", lambda method, seconds: counted.update([method]))
    return counted


def test_a_pass_costs_a_few_etcd_calls_however_many_requests_run(kv, broker, swept,
                                                                   monkeypatch):
    wf, sweeper = swept
    running(kv, wf, 300)
    calls = calls_of(monkeypatch)
    t0 = 1_000_000.0
    sweeper.sweep(wf, now=t0)  # first sight: no per-request read
    first = sum(calls.values())
    calls.clear()
    sweeper.sweep(wf, now=t0 + 1)  # nobody has been quiet for MR_STALL_S yet
    assert sum(calls.values()) == first <= 6
    assert published(broker, wf) == 0
    calls.clear()
    sweeper.sweep(wf, now=t0 + STALL_S)  # all 300 due: checked 128 per read-only txn
    assert calls["Txn"] == 3
    assert published(broker, wf) == 300  # every lost root message published again
    calls.clear()
    sweeper.sweep(wf, now=t0 + STALL_S + 1)  # their clocks started again
    assert sum(calls.values()) == first and published(broker, wf) == 300


def test_only_requests_without_progress_are_published_again(kv, broker, swept):
    wf, sweeper = swept
    quiet, busy, late = running(kv, wf, 3)
    t0 = 2_000_000.0
    sweeper.sweep(wf, now=t0)
    progress(kv, wf, busy)  # before the next pass
    sweeper.sweep(wf, now=t0 + 10)
    progress(kv, wf, late)  # between a check and the next pass, long after first sight
    sweeper.sweep(wf, now=t0 + STALL_S - 5)
    sweeper.sweep(wf, now=t0 + STALL_S)
    assert published(broker, wf) == 1  # quiet only: busy progressed at t0+10, late at t0+95
    sweeper.sweep(wf, now=t0 + 10 + STALL_S)
    assert published(broker, wf) == 2  # busy: quiet for MR_STALL_S since the pass saw it
    sweeper.sweep(wf, now=t0 + STALL_S - 5 + STALL_S - 1)
    assert published(broker, wf) == 2  # late: not yet
    sweeper.sweep(wf, now=t0 + STALL_S - 5 + STALL_S)
    assert published(broker, wf) == 3


def test_keys_a_dead_worker_left_are_purged_when_due(kv, swept):
    """A big done request loses its keys after its ending transaction; if its worker dies
    meanwhile, the purge mark that transaction wrote lets the sweeper finish the job."""
    wf, sweeper = swept
    due, later = running(kv, wf, 2)
    now = 1_000_000.0
    for rid, at in ((due, now - 1), (later, now + 30)):
        protocol.create_children(kv, wf, rid, [Invocation(id=f"0.{i}", step="letters")
                                               for i in range(30)])
        # what end_request commits before deleting pages, then the worker dies
        assert kv.txn([], [client.op_delete(keys.live(wf, rid)),
                           client.op_put(keys.purge(wf, at, rid), b"")]).succeeded
    sweeper.sweep(wf, now)
    assert kv.count(keys.request_data(wf, due)) == 0
    assert kv.count(keys.request_data(wf, later)) == 31  # not due yet: its worker may be busy
    assert [e.key for e in kv.scan(keys.purges(wf))] == [keys.purge(wf, now + 30, later)]
