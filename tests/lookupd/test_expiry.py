"""Producers that stop pinging drop out of /lookup and /nodes; tombstones last their lifetime."""
from __future__ import annotations

import pytest

from mr.cluster import wait_for
from tests.lookupd.conftest import Node, get_json, http, start_lookupd


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """Producers are inactive one second after their last PING; tombstones last a minute."""
    server = start_lookupd(tmp_path_factory.mktemp("quick"), "--inactive-producer-timeout=1s",
                           "-tombstone-lifetime=1m")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def short_tombstones(tmp_path_factory):
    server = start_lookupd(tmp_path_factory.mktemp("tombstones"), "--tombstone-lifetime", "1s")
    yield server
    server.stop()


def lookup_ports(lookupd, topic: str) -> list[int]:
    return sorted(p["tcp_port"] for p in get_json(lookupd, f"/lookup?topic={topic}")["producers"])


def node_addresses(lookupd) -> set[str]:
    return {n["remote_address"] for n in get_json(lookupd, "/nodes")["producers"]}


def test_a_silent_producer_expires_and_a_ping_revives_it(quick, topic):
    node = Node(quick)
    try:
        node.identify(tcp_port=4350, http_port=4351)
        node.call(f"REGISTER {topic} ch".encode())
        assert lookup_ports(quick, topic) == [4350]
        wait_for(lambda: lookup_ports(quick, topic) == [], timeout=15,
                 message="the silent producer to expire")
        assert node.address not in node_addresses(quick)
        # Expired is not forgotten: the registrations stay, only filtered out.
        assert topic in get_json(quick, "/topics")["topics"]
        assert node.call(b"PING") == b"OK"
        assert lookup_ports(quick, topic) == [4350]
        assert node.address in node_addresses(quick)
    finally:
        node.close()


def test_a_tombstone_ends_after_its_lifetime(short_tombstones, topic):
    node = Node(short_tombstones)
    try:
        node.identify(tcp_port=4450, http_port=4451)
        node.call(f"REGISTER {topic}".encode())
        assert lookup_ports(short_tombstones, topic) == [4450]
        request = f"/topic/tombstone?topic={topic}&node=127.0.0.1:4451"
        assert http(short_tombstones, request, "POST")[0] == 200
        assert lookup_ports(short_tombstones, topic) == []
        wait_for(lambda: lookup_ports(short_tombstones, topic) == [4450], timeout=15,
                 message="the tombstone to lapse")
    finally:
        node.close()
