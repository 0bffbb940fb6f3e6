"""mr_broker --lookupd-tcp-address registers with mr_lookupd exactly as nsqd does."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
from types import SimpleNamespace

import pytest

from mr import cluster
from mr.broker import lookup_peers
from mr.broker.options import Options
from mr.cluster import free_port, wait_for
from tests.broker.wire import Wire
from tests.lookupd.conftest import get_json, http, start_broker, start_lookupd


def post(service: cluster.Service, path: str) -> None:
    status, _, body = http(service, path, "POST")
    assert status == 200, body


def producer_ports(lookupd, topic: str) -> list[int]:
    status, _, body = http(lookupd, f"/lookup?topic={topic}")
    return sorted(p["tcp_port"] for p in json.loads(body)["producers"]) if status == 200 else []


def tcp_port(service: cluster.Service) -> int:
    return int(service.address.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def two_lookupds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lookupds")
    servers = [start_lookupd(tmp), start_lookupd(tmp)]
    yield servers
    for server in servers:
        server.stop()


def test_identify_and_register_with_every_lookupd(two_lookupds, tmp_path, topic):
    broker = start_broker(tmp_path, *(s.address for s in two_lookupds))
    try:
        post(broker, f"/topic/create?topic={topic}")
        post(broker, f"/channel/create?topic={topic}&channel=ch")
        for lookupd in two_lookupds:
            wait_for(lambda: producer_ports(lookupd, topic) == [tcp_port(broker)],
                     message=f"registration at {lookupd.address}")
            # the channel's REGISTER follows the topic's: wait for it too
            wait_for(lambda: get_json(lookupd, f"/channels?topic={topic}") == {
                "channels": ["ch"]}, message=f"channel registered at {lookupd.address}")
            mine = [n for n in get_json(lookupd, "/nodes")["producers"]
                    if n["tcp_port"] == tcp_port(broker)]
            assert len(mine) == 1
            http_port = int(broker.http_address.rsplit(":", 1)[1])
            assert mine[0]["http_port"] == http_port
            assert mine[0]["broadcast_address"] == "127.0.0.1"
            assert mine[0]["hostname"] == socket.gethostname()
            assert mine[0]["version"].startswith("1.3.0")
    finally:
        broker.stop()
    for lookupd in two_lookupds:  # lookupd forgets a node whose connection closed
        wait_for(lambda: producer_ports(lookupd, topic) == [], message="node gone")


def test_deletions_unregister(two_lookupds, tmp_path, topic):
    lookupd = two_lookupds[0]
    broker = start_broker(tmp_path, lookupd.address)
    try:
        post(broker, f"/topic/create?topic={topic}")
        post(broker, f"/channel/create?topic={topic}&channel=a")
        post(broker, f"/channel/create?topic={topic}&channel=b")

        def producers_of(channel):
            return [p["tcp_port"] for p in get_json(lookupd, "/debug").get(
                f"channel:{topic}:{channel}", [])]
        wait_for(lambda: producers_of("a") and producers_of("b"), message="both channels")
        post(broker, f"/channel/delete?topic={topic}&channel=a")
        wait_for(lambda: not producers_of("a"), message="channel a unregistered")
        assert producers_of("b") == [tcp_port(broker)]
        post(broker, f"/topic/delete?topic={topic}")
        wait_for(lambda: producer_ports(lookupd, topic) == [], message="topic unregistered")
        assert not producers_of("b")
    finally:
        broker.stop()


def test_ephemeral_channel_goes_with_its_last_consumer(two_lookupds, tmp_path, topic):
    lookupd = two_lookupds[0]
    broker = start_broker(tmp_path, lookupd.address)
    consumer = Wire(SimpleNamespace(tcp_address=broker.address))
    try:
        consumer.identify()
        consumer.subscribe(topic, "tail#ephemeral")
        wait_for(lambda: get_json(lookupd, f"/channels?topic={topic}")["channels"] == [
            "tail#ephemeral"], message="ephemeral channel registered")
        consumer.close()
        wait_for(lambda: get_json(lookupd, f"/channels?topic={topic}")["channels"] == [],
                 message="ephemeral channel unregistered and removed")
        assert producer_ports(lookupd, topic) == [tcp_port(broker)]
    finally:
        consumer.close()
        broker.stop()


def test_registers_everything_with_a_lookupd_that_comes_late_or_restarts(tmp_path, topic):
    tcp, http_port = free_port(), free_port()
    broker = start_broker(tmp_path, f"127.0.0.1:{tcp}")
    lookupd = None
    try:
        post(broker, f"/topic/create?topic={topic}")
        post(broker, f"/channel/create?topic={topic}&channel=ch")
        post(broker, f"/topic/create?topic={topic}_bare")
        for _ in range(2):  # first start, then a restart: each time everything is registered
            lookupd = cluster.lookupd(tmp_path / "late.log", tcp, http_port).start()
            wait_for(lambda: producer_ports(lookupd, topic) == [tcp_port(broker)]
                     and producer_ports(lookupd, f"{topic}_bare") == [tcp_port(broker)],
                     timeout=30, message="re-registration")
            assert get_json(lookupd, f"/channels?topic={topic}") == {"channels": ["ch"]}
            lookupd.stop()
        log = broker.log_path.read_text()
        assert log.count(f"LOOKUPD(127.0.0.1:{tcp}): REGISTER {topic} ch") >= 2
    finally:
        broker.stop()
        if lookupd is not None:
            lookupd.stop()


def test_pings_keep_the_node_active(tmp_path, monkeypatch):
    """In-process broker with a short ping interval: lookupd sees each PING (last_update)."""
    lookupd = start_lookupd(tmp_path, "--inactive-producer-timeout=2s")
    monkeypatch.setattr(lookup_peers, "PING_INTERVAL", 0.2)
    from mr.broker.server import Broker

    stop = threading.Event()
    options = Options(tcp_address="127.0.0.1:0", http_address="127.0.0.1:0",
                      broadcast_address="127.0.0.1", lookupd_tcp_addresses=[lookupd.address])

    async def serve():
        broker = Broker(options)
        await broker.start()
        while not stop.is_set():
            await asyncio.sleep(0.02)
        await broker.stop()
    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    try:
        def last_update():
            clients = get_json(lookupd, "/debug").get("client::", [])
            return clients[0]["last_update"] if clients else None
        first = wait_for(last_update, message="the broker identified")
        wait_for(lambda: last_update() > first, message="a PING")
        second = last_update()
        wait_for(lambda: last_update() > second, message="another PING")
        assert len(get_json(lookupd, "/nodes")["producers"]) == 1
    finally:
        stop.set()
        thread.join(20)
        lookupd.stop()
