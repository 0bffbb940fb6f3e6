"""The loopback topology (mr/topology.py, as scripts/loopback_topology starts it) keeps
answering word counts through nginx while an etcd member and a broker die.

3 etcd members, 2 brokers + mr_lookupd, 3 workers discovering the brokers, 2 front-ends
behind nginx. The etcd leader is killed while requests run; the second broker is killed once
everything it held was consumed, and more requests follow. Every result must equal an
in-process count, and the records kept in etcd (MR_CLEANUP=0) must show both front-ends and
all three workers at work.
"""
from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mr import examples
from mr.cluster import wait_for
from mr.kv import keys
from mr.topology import Ports, Topology, broker_settled, nginx_binary
from mr.trace.store import invocations, load_request

pytestmark = pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed "
                                                               "(scripts/install apt-installs it)")
BATCH = 6


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    topo = Topology(tmp_path_factory.mktemp("topology"), Ports.free(),
                    extra_env={"MR_CLEANUP": "0", "MR_REQUEST_TIMEOUT_S": "60"})
    topo.start(timeout=90)
    yield topo
    topo.stop()


@pytest.fixture(scope="module")
def texts():
    """Different slices of real prose, one per request."""
    lines = examples.corpus().splitlines()
    return ["\n".join(lines[i * 150:(i + 1) * 150 + 60]) for i in range(2 * BATCH)]


def word_count(topo: Topology, text: str) -> tuple[str, dict]:
    """(request id, counts). A create whose etcd reply was lost when a member died is
    recognised on retry (request_protocol.create_request), so no request is refused for it."""
    reply = requests.post(f"{topo.url}/job/{topo.workflow}/wordcount", timeout=90,
                          json={"arguments": {"text": text, "lines_per_chunk": 20}})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["state"] == "done", body
    return body["request_id"], dict(body["result"])


def etcd_leader(topo: Topology):
    """The member etcd says leads (its gRPC gateway's maintenance status)."""
    for member in topo.etcd:
        request = urllib.request.Request(f"http://{member.address}/v3/maintenance/status",
                                         data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=5) as reply:
            status = json.load(reply)
        if status["leader"] == status["header"]["member_id"]:
            return member
    raise AssertionError("no etcd member leads")


def run_batch(topo: Topology, texts: list[str], during=None) -> list[str]:
    """POST every text at once through nginx (calling `during` once they run); check results."""
    kv = topo.kv()
    before = kv.count(keys.requests(topo.workflow))
    with ThreadPoolExecutor(len(texts)) as pool:
        futures = [pool.submit(word_count, topo, text) for text in texts]
        if during is not None:
            wait_for(lambda: kv.count(keys.requests(topo.workflow)) >= before + 2, 30,
                     "requests to be running")
            during()
        done = [f.result() for f in futures]
    kv.close()
    for (rid, counts), text in zip(done, texts):
        assert counts == examples.count_locally(text), f"request {rid} counted wrongly"
    return [rid for rid, _ in done]


def test_word_counts_survive_an_etcd_member_and_a_broker_dying(topology, texts):
    leader = etcd_leader(topology)
    rids = run_batch(topology, texts[:BATCH], during=leader.kill)
    assert not leader.alive()

    second = topology.brokers[1]
    wait_for(lambda: broker_settled(second), 30, "the second broker's messages consumed")
    second.kill()
    rids += run_batch(topology, texts[BATCH:])

    kv = topology.kv()
    front_ends, workers = set(), set()
    for rid in rids:
        request = load_request(kv, topology.workflow, rid)
        front_ends.add(request.context["front_end"])
        workers |= {inv.worker for inv in invocations(kv, request)}
    registered = {key.rsplit("/", 1)[1] for key in
                  (e.key for e in kv.scan(keys.workers(), keys_only=True))}
    kv.close()
    assert front_ends == {"front1", "front2"}
    assert workers == registered and len(workers) == 3, (workers, registered)
