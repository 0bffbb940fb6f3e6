"""Claiming an invocation from the record its message carries, and removing a big request's
keys a page at a time, against the real etcd."""
import time

from mr.engine import protocol, request_protocol
from mr.engine.claiming import Claimer, Run
from mr.kv import entities, keys
from mr.kv.codec import pack
from mr.kv.models import RUNNING, Invocation, Request, decode, encode
from mr.queue import messages
from tests.support.cluster import unique

WF = "claims"


def new_request(kv, children: int = 3) -> tuple[Request, list[tuple[bytes, int]]]:
    request = Request(workflow=WF, id=unique("claim"), job="j", arguments=[])
    assert request_protocol.create_request(kv, request, Invocation(id="0", step="s"))
    created = protocol.create_children(kv, WF, request.id, [
        Invocation(id=f"0.{i}", step="s", arguments=[[i, i]]) for i in range(children)])
    return request, created


def running(record: bytes, worker: str) -> bytes:
    inv = decode(Invocation, record)
    inv.state, inv.worker = RUNNING, worker
    return encode(inv)


def test_created_children_report_their_record_and_revision(kv):
    request, created = new_request(kv)
    for i, (record, revision) in enumerate(created):
        stored = kv.get(keys.invocation(WF, request.id, f"0.{i}"))
        assert (stored.value, stored.mod_revision) == (record, revision)


def test_one_claim_of_a_published_record_holds(kv):
    request, created = new_request(kv)
    record, revision = created[0]
    entry = protocol.claim(kv, WF, request.id, revision, record, "0.0", running(record, "w1"))
    assert entry is not None and entry.mod_revision > 0 and entry.value == b""
    # a duplicate of the same message: the record changed, so the claim fails
    assert protocol.claim(kv, WF, request.id, revision, record, "0.0",
                          running(record, "w2")) is None
    held = decode(Invocation, kv.get(keys.invocation(WF, request.id, "0.0")).value)
    assert (held.state, held.worker) == (RUNNING, "w1")
    assert kv.count(keys.mark(WF, request.id, keys.STARTED, "0.0")) == 1


def test_a_forged_record_cannot_be_claimed(kv):
    """A message must not bring its own arguments: etcd's record has to match it exactly."""
    request, created = new_request(kv)
    _, revision = created[1]
    forged = encode(Invocation(id="0.1", step="s", arguments=[["rm", "-rf"]]))
    assert protocol.claim(kv, WF, request.id, revision, forged, "0.1",
                          running(forged, "w1")) is None
    held = decode(Invocation, kv.get(keys.invocation(WF, request.id, "0.1")).value)
    assert held.state == "queued" and held.arguments == [[1, 1]]


def test_nothing_is_claimed_in_an_ended_request(kv):
    request, created = new_request(kv)
    request.state = "failed"
    assert request_protocol.end_request(kv, request, [], cleanup=False)
    record, revision = created[2]
    assert protocol.claim(kv, WF, request.id, revision, record, "0.2",
                          running(record, "w1")) is None


def test_a_reduction_is_published_by_its_creator_alone(kv):
    request, _ = new_request(kv)
    mine = encode(Invocation(id="0.r", step="s", kind="reduce", created=1.0))
    theirs = encode(Invocation(id="0.r", step="s", kind="reduce", created=2.0))
    revision = protocol.claim_reduce(kv, WF, request.id, "0.r", mine)
    assert revision == kv.get(keys.invocation(WF, request.id, "0.r")).mod_revision
    assert protocol.claim_reduce(kv, WF, request.id, "0.r", theirs) == 0


def test_a_reduction_whose_creating_reply_was_lost_is_still_published(kv):
    """The client re-sends a call whose reply was lost (etcd stopped after applying it): the
    retry finds the record it wrote itself and publishes, until the reduction is claimed."""
    request, _ = new_request(kv)
    record = encode(Invocation(id="0.r", step="s", kind="reduce"))
    revision = protocol.claim_reduce(kv, WF, request.id, "0.r", record)
    assert protocol.claim_reduce(kv, WF, request.id, "0.r", record) == revision
    assert protocol.claim(kv, WF, request.id, revision, record, "0.r", running(record, "w1"))
    assert protocol.claim_reduce(kv, WF, request.id, "0.r", record) == 0


def test_no_reduction_is_published_in_an_ended_request(kv):
    request, _ = new_request(kv)
    record = encode(Invocation(id="0.r", step="s", kind="reduce"))
    assert protocol.claim_reduce(kv, WF, request.id, "0.r", record)
    request.state = "failed"
    assert request_protocol.end_request(kv, request, [], cleanup=False)
    assert protocol.claim_reduce(kv, WF, request.id, "0.r", record) == 0


def test_a_record_a_worker_cannot_use_takes_the_read_path(kv):
    """A forged record with fields of the wrong type must not raise in the worker (that would
    end as an engine error failing the request): etcd's own record is read and claimed."""
    request, created = new_request(kv)
    _, revision = created[0]
    forged = pack({"id": "0.0", "step": "s", "attempts": "many"})
    msg = messages.decode(messages.encode(WF, request.id, "0.0", revision, forged))
    run = Claimer(kv, "w1", lambda worker: False).take(msg, "m1")
    assert isinstance(run, Run) and run.owned()
    assert (run.inv.attempts, run.inv.arguments, run.request.id) == (1, [[0, 0]], request.id)
    held = decode(Invocation, kv.get(keys.invocation(WF, request.id, "0.0")).value)
    assert (held.state, held.worker, held.message_id) == (RUNNING, "w1", "m1")


def test_data_is_deleted_a_page_at_a_time(kv):
    request, _ = new_request(kv, children=20)
    owned = kv.count(keys.request_data(WF, request.id))
    assert owned == 22  # live, root and 20 children
    assert entities.delete_request_data(kv, WF, request.id, page=7) == owned
    assert kv.count(keys.request_data(WF, request.id)) == 0
    assert kv.get(request.key) is not None  # the record is not part of its data


def test_a_big_done_request_loses_every_key(kv):
    children = request_protocol.ATOMIC_CLEANUP_INVOCATIONS + 20
    request, _ = new_request(kv, children=children)
    request.state, request.finished = "done", time.time()
    assert request_protocol.end_request(kv, request, [], cleanup=True)
    assert kv.count(keys.request_data(WF, request.id)) == 0
    assert decode(Request, kv.get(request.key).value).counts["done"] == children + 1
    # its purge mark (for the sweeper, had this process died while deleting) is gone too
    assert not [e for e in kv.scan(keys.purges(WF)) if e.key.endswith("/" + request.id)]


def test_a_request_of_one_invocation_counts_it_without_reading(kv):
    request = Request(workflow=WF, id=unique("one"), job="j", arguments=[])
    root = Invocation(id="0", step="s")
    assert request_protocol.create_request(kv, request, root)
    root.state, request.state = "done", "done"
    assert request_protocol.end_request(kv, request, [root], cleanup=True)
    counts = decode(Request, kv.get(request.key).value).counts
    assert counts == {"queued": 0, "running": 0, "waiting": 0, "done": 1, "failed": 0,
                      "skipped": 0}
