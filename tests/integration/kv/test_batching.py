"""Group commit: merged transactions keep each caller's own outcome."""
import threading
import uuid

from mr.kv.batching import BatchingKV
from mr.kv.client import cmp_absent, op_delete, op_get, op_put


def run_together(count, work):
    results = [None] * count
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, work(i)))
               for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_independent_txns_are_merged_and_each_sees_its_replies(kv):
    batching = BatchingKV(kv)
    prefix = f"/test/{uuid.uuid4().hex}/"

    def work(i):
        key = f"{prefix}{i}"
        result = batching.txn([cmp_absent(key)], [op_put(key, str(i).encode()), op_get(key)])
        return result.succeeded, result.entry(1).value
    results = run_together(40, work)
    assert results == [(True, str(i).encode()) for i in range(40)]
    assert batching.transactions < 40  # some were merged into one proposal
    assert kv.count(prefix) == 40


def test_one_winner_among_concurrent_claims_of_one_key(kv):
    batching = BatchingKV(kv)
    key = f"/test/{uuid.uuid4().hex}/claim"
    results = run_together(30, lambda i: batching.txn([cmp_absent(key)],
                                                      [op_put(key, str(i).encode())]).succeeded)
    assert results.count(True) == 1


def test_failure_branch_answers_alone(kv):
    batching = BatchingKV(kv)
    key = f"/test/{uuid.uuid4().hex}/k"
    kv.put(key, b"old")
    result = batching.txn([cmp_absent(key)], [op_put(key, b"new")], [op_get(key)])
    assert not result.succeeded and result.entry(0).value == b"old"
    # deletes are never merged, but still work
    assert batching.txn([], [op_delete(key)]).succeeded and kv.get(key) is None
