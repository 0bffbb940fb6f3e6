"""A leaf's one transaction against a real etcd: it claims the invocation and commits its
outcome together. Of two runs of one invocation read at the same revision, the first commit
counts; the other's transaction fails its compare and changes nothing (etcd's revision does
not move), as does one whose invocation another run claimed meanwhile."""
from __future__ import annotations

import copy
import time

from mr.engine import progress, protocol, request_protocol
from mr.engine.claiming import _LazyClaim
from mr.kv import keys
from mr.kv.client import op_put
from mr.kv.codec import pack, unpack
from mr.kv.keys import DONE_MARK, STARTED
from mr.kv.models import DONE, FAILED, RUNNING, Invocation, Request, decode
from tests.support.cluster import unique
from tests.support.lost_reply import lose_first_replies


def new_request(kv) -> tuple[Request, Invocation, int]:
    """A running request whose root is queued; the revision that created the root."""
    request = Request(workflow=unique("one"), id=unique("r"), job="j", arguments=[],
                      created=time.time())
    root = Invocation(id="0", step="s", arguments=[])
    revision = request_protocol.create_request(kv, request, root)
    assert revision
    return request, root, revision


def ended(request: Request, root: Invocation, result: list) -> tuple[Request, Invocation]:
    """What one run of a lone root hands end_request: its own copies, done."""
    request, root = copy.deepcopy(request), copy.deepcopy(root)
    request.state, request.finished, request.result = DONE, time.time(), result
    root.state, root.finished = DONE, time.time()
    return request, root


def marks(kv, request: Request, mark: str, iid: str) -> int:
    return kv.count(keys.mark(request.workflow, request.id, mark, iid))


def test_of_two_runs_of_a_root_the_first_ends_the_request_and_the_other_changes_nothing(kv):
    request, root, revision = new_request(kv)
    unclaimed = protocol.Unclaimed(root.id, revision)
    first, first_root = ended(request, root, [["sum", 1]])
    assert request_protocol.end_request(kv, first, [first_root], cleanup=False,
                                        unclaimed=unclaimed)
    before = kv.revision()
    second, second_root = ended(request, root, [["sum", 2]])
    assert not request_protocol.end_request(kv, second, [second_root], cleanup=False,
                                            unclaimed=unclaimed)
    assert kv.revision() == before  # a failed compare writes nothing
    stored = decode(Request, kv.get(request.key).value)
    assert stored.state == DONE and stored.result == [["sum", 1]]
    assert stored.counts["done"] == 1
    # the started mark its claim would have written, with the final one
    assert marks(kv, request, STARTED, "0") == marks(kv, request, DONE_MARK, "0") == 1


def test_a_root_that_ends_with_cleanup_leaves_nothing_a_late_run_could_write_into(kv):
    request, root, revision = new_request(kv)
    unclaimed = protocol.Unclaimed(root.id, revision)
    first, first_root = ended(request, root, [["sum", 1]])
    assert request_protocol.end_request(kv, first, [first_root], cleanup=True, unclaimed=unclaimed)
    before = kv.revision()
    second, second_root = ended(request, root, [["sum", 2]])
    assert not request_protocol.end_request(kv, second, [second_root], cleanup=True,
                                            unclaimed=unclaimed)
    assert kv.revision() == before
    assert decode(Request, kv.get(request.key).value).result == [["sum", 1]]
    assert kv.count(keys.request_data(request.workflow, request.id)) == 0


def leaf(kv) -> tuple[Request, Invocation, int]:
    """A running request whose root waits for one queued child, "0.0"."""
    request, root, _ = new_request(kv)
    child = Invocation(id="0.0", step="s", arguments=[])
    (_record, revision), = protocol.create_children(kv, request.workflow, request.id, [child])
    assert protocol.finish_fanout(kv, request.workflow, request.id, root, 1).committed
    return request, child, revision


def test_of_two_runs_of_a_leaf_one_output_counts_once(kv):
    request, child, revision = leaf(kv)
    wf, rid = request.workflow, request.id
    unclaimed = protocol.Unclaimed(child.id, revision)
    runs = [copy.deepcopy(child), copy.deepcopy(child)]
    for run in runs:
        run.state = DONE
    first = protocol.complete(kv, wf, rid, [runs[0]], child.id, pack([["v", 1]]), unclaimed)
    assert first.committed and first.parent_ready  # its only child: the root may reduce
    before = kv.revision()
    second = protocol.complete(kv, wf, rid, [runs[1]], child.id, pack([["v", 2]]), unclaimed)
    assert not second.committed
    assert second.parent_ready  # says so again; the reduction's own claim keeps it to one run
    assert kv.revision() == before
    assert unpack(kv.get(keys.output(wf, rid, "0", child.id)).value) == [["v", 1]]
    assert sum(e.version for e in kv.scan(keys.counters(wf, rid, "0"))) == 1  # counted once
    assert marks(kv, request, STARTED, child.id) == 1


def test_a_leaf_claimed_by_another_run_meanwhile_commits_nothing(kv):
    """A duplicate that read the same revision, then ran long enough to be claimed, owns the
    invocation: the unclaimed run's completion fails its compare."""
    request, child, revision = leaf(kv)
    wf, rid = request.workflow, request.id
    other = copy.deepcopy(child)
    other.state, other.worker = RUNNING, "another-worker"
    assert protocol.start(kv, wf, rid, revision, other)()
    before = kv.revision()
    mine = copy.deepcopy(child)
    mine.state = DONE
    result = protocol.complete(kv, wf, rid, [mine], child.id, pack([["v", 1]]),
                               protocol.Unclaimed(child.id, revision))
    assert not result.committed and not result.parent_ready
    assert kv.revision() == before
    assert kv.get(keys.output(wf, rid, "0", child.id)) is None
    assert decode(Invocation, kv.get(keys.invocation(wf, rid, child.id)).value).worker == \
        "another-worker"


def test_a_lazy_claim_after_its_run_began_to_commit_writes_nothing(kv):
    request, child, revision = leaf(kv)
    claim = _LazyClaim(kv, request.workflow, request.id, revision, child, claim_to_own=True)
    assert claim.finish() == protocol.Unclaimed(child.id, revision)
    before = kv.revision()
    claim.claim()          # the claim timer, firing late: the completion claims it instead
    assert claim.owned()   # nothing claimed, so nothing lost
    assert kv.revision() == before


def test_a_mapper_claims_before_an_effect_beyond_its_outcome(kv):
    """owned() (before a fan-out or a failure) claims an unclaimed mapper; finish() then
    leaves its completion to the ordinary path."""
    request, child, revision = leaf(kv)
    claim = _LazyClaim(kv, request.workflow, request.id, revision, copy.deepcopy(child),
                       claim_to_own=True)
    assert claim.owned()
    assert claim.finish() is None
    assert marks(kv, request, STARTED, child.id) == 1
    again = _LazyClaim(kv, request.workflow, request.id, revision, copy.deepcopy(child),
                       claim_to_own=True)
    assert not again.owned()  # a second copy read the same revision: its claim fails


def test_a_failing_end_keeps_what_a_leaf_committed_after_its_first_read(kv, monkeypatch):
    """A request fails while another of its leaves still runs. If that leaf commits between
    the ending's read of the counts and tallies and the ending's transaction, the record must
    count it: the ending sees the request changed since it read, and reads again."""
    request, root, _ = new_request(kv)
    wf, rid = request.workflow, request.id
    reads = []
    real_final = progress.final

    def final_then_a_leaf_commits(*args):
        found = real_final(*args)
        reads.append(found)
        if len(reads) == 1:   # what a leaf's completion writes: its done mark and tallies
            kv.txn([], [op_put(keys.mark(wf, rid, DONE_MARK, "0.1"), b""),
                        op_put(keys.tally(wf, rid, "0.1"), pack({"leaves": 1}))])
        return found
    monkeypatch.setattr(progress, "final", final_then_a_leaf_commits)
    failing = copy.deepcopy(request)
    failing.state, failing.finished = FAILED, time.time()
    leaf = Invocation(id="0.2", step="s", state=FAILED, tallies={"leaves": 1})
    assert request_protocol.end_request(kv, failing, [leaf], cleanup=False)
    assert len(reads) == 2
    stored = decode(Request, kv.get(request.key).value)
    assert stored.state == FAILED and stored.tallies == {"leaves": 1}
    assert stored.counts["done"] == 1 and stored.counts["failed"] == 1


def test_an_ending_whose_reply_was_lost_is_still_the_one_that_ended_the_request(kv):
    """The client re-sends it and meets its own write: it ended the request (and notifies),
    unlike another run's ending, whose record differs."""
    request, root, revision = new_request(kv)
    first, first_root = ended(request, root, [["sum", 1]])
    undo = lose_first_replies(request.key.encode())
    try:
        kept = []
        assert request_protocol.end_request(
            kv, first, [first_root], cleanup=False,
            unclaimed=protocol.Unclaimed(root.id, revision),
            keep_trace=lambda req, records, logs: kept.append(len(list(records))))
    finally:
        undo()
    assert kept == [1]   # its records stay in etcd: the trace reads them there
    stored = decode(Request, kv.get(request.key).value)
    assert stored.state == DONE and stored.result == [["sum", 1]]
    second, second_root = ended(request, root, [["sum", 2]])
    assert not request_protocol.end_request(kv, second, [second_root], cleanup=False)
