"""Removing many ended requests at once (the sweeper's retention) against the real etcd."""
import time

from mr.engine import request_protocol
from mr.kv import entities, keys
from mr.kv.models import DONE, Invocation, Request
from tests.support.cluster import unique


def ended_request(kv, wf: str, name: str | None = None) -> str:
    request = Request(workflow=wf, id=unique("r"), job="j", arguments=[], name=name,
                      deadline=time.time() + 60, keep_s=0.0)
    assert request_protocol.create_request(kv, request, Invocation(id="0", step="s"))
    request.state, request.finished = DONE, time.time()
    assert request_protocol.end_request(kv, request, [], cleanup=False)
    return request.id


def test_many_requests_are_removed_in_few_transactions_and_running_ones_kept(kv):
    wf = unique("many")
    ended = [ended_request(kv, wf) for _ in range(45)]
    running = Request(workflow=wf, id=unique("run"), job="j", arguments=[],
                      deadline=time.time() + 60)
    assert request_protocol.create_request(kv, running, Invocation(id="0", step="s"))
    removed, kept = entities.cleanup_requests(kv, wf, ended + [running.id])
    assert sorted(removed) == sorted(ended) and kept == [running.id]
    assert kv.count(keys.requests(wf)) == 1
    assert kv.count(keys.by_state(wf, DONE)) == 0 and kv.count(keys.expiries(wf)) == 0
    assert kv.count(keys.deadlines(wf)) == 1  # the running request's own
