"""etcd members named by host name fail over like a list of addresses: one KV keeps working
while the member it started with is down or dies (a real 3-member cluster)."""
import uuid

import pytest

from mr import cluster
from mr.cluster import free_port
from mr.kv.client import KV


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("etcd3")
    clients, peers = [free_port() for _ in range(3)], [free_port() for _ in range(3)]
    initial = ",".join(f"m{i}=http://127.0.0.1:{p}" for i, p in enumerate(peers))
    services = [cluster.etcd_member(f"m{i}", tmp / f"m{i}", tmp / f"m{i}.log", c, p, initial)
                for i, (c, p) in enumerate(zip(clients, peers))]
    try:
        for service in services:
            service.start(wait=False)
        for service in services:  # healthy once a quorum runs
            service.wait_ready(60)
        yield services
    finally:
        for service in services:
            service.stop()


def test_a_first_host_that_is_down_is_skipped(etcd):
    port = etcd.address.rsplit(":", 1)[1]
    client = KV([f"localhost:{free_port()}", f"localhost:{port}"], timeout=5)
    try:
        key = f"/test/{uuid.uuid4().hex}"
        client.put(key, b"up")
        assert client.get(key).value == b"up"
    finally:
        client.close()


def test_a_member_dying_under_a_client_of_host_names(members):
    hosts = [f"localhost:{m.address.rsplit(':', 1)[1]}" for m in members]
    client = KV(hosts, timeout=20)  # long enough for the survivors to elect a leader
    try:
        key = f"/test/{uuid.uuid4().hex}"
        client.put(key, b"before")
        members[0].kill()
        for n in range(10):  # round robin: some of these would have gone to the dead member
            client.put(f"{key}/{n}", b"after")
        assert client.get(key).value == b"before" and client.count(key + "/") == 10
    finally:
        client.close()
