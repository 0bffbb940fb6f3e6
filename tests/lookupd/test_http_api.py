"""mr_lookupd's HTTP API: every endpoint, its JSON shape, status codes and error messages."""
from __future__ import annotations

import json
import socket
import time

import pytest

from tests.lookupd.conftest import get_json, http, start_lookupd


def error(lookupd, path: str, method: str = "GET") -> tuple[int, str]:
    status, headers, body = http(lookupd, path, method)
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    return status, json.loads(body)["message"]


def post_ok(lookupd, path: str) -> None:
    """The write endpoints answer 200 with an empty body (nsqlookupd's V1 nil response)."""
    status, headers, body = http(lookupd, path, "POST")
    assert (status, body) == (200, b""), body
    assert headers["X-NSQ-Content-Type"] == "nsq; version=1.0"


def test_ping_is_plain_text(lookupd):
    status, headers, body = http(lookupd, "/ping")
    assert (status, body) == (200, b"OK")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "X-NSQ-Content-Type" not in headers


def test_info_has_the_version(lookupd):
    status, headers, body = http(lookupd, "/info")
    assert status == 200 and headers["X-NSQ-Content-Type"] == "nsq; version=1.0"
    assert list(json.loads(body)) == ["version"]
    assert json.loads(body)["version"].startswith("1.3.0")


def test_lookup_of_a_registered_topic(lookupd, nodes, topic):
    node = nodes()
    node.identify(tcp_port=8150, http_port=8151)
    node.call(f"REGISTER {topic} one".encode())
    node.call(f"REGISTER {topic} two".encode())
    found = get_json(lookupd, f"/lookup?topic={topic}")
    assert sorted(found["channels"]) == ["one", "two"]
    assert [(p["broadcast_address"], p["tcp_port"]) for p in found["producers"]] == [
        ("127.0.0.1", 8150)]
    assert topic in get_json(lookupd, "/topics")["topics"]
    assert sorted(get_json(lookupd, f"/channels?topic={topic}")["channels"]) == ["one", "two"]


@pytest.mark.parametrize("path, status, message", [
    ("/lookup", 400, "MISSING_ARG_TOPIC"),
    ("/lookup?topic=never_registered", 404, "TOPIC_NOT_FOUND"),
    ("/lookup?topic=%zz", 400, "INVALID_REQUEST"),
    ("/lookup?topic=a;b", 400, "INVALID_REQUEST"),
    ("/channels", 400, "MISSING_ARG_TOPIC"),
    ("/no/such/path", 404, "NOT_FOUND"),
])
def test_read_errors(lookupd, path, status, message):
    assert error(lookupd, path) == (status, message)


def test_channels_of_an_unknown_topic_is_empty(lookupd):
    assert get_json(lookupd, "/channels?topic=never_registered") == {"channels": []}


@pytest.mark.parametrize("path, method", [
    ("/topic/create?topic=x", "GET"), ("/lookup?topic=x", "POST"), ("/ping", "POST"),
    ("/nodes", "DELETE"),
])
def test_wrong_method(lookupd, path, method):
    assert error(lookupd, path, method) == (405, "METHOD_NOT_ALLOWED")


def test_topic_create_and_delete(lookupd, topic):
    post_ok(lookupd, f"/topic/create?topic={topic}")
    assert topic in get_json(lookupd, "/topics")["topics"]
    # Known but with no producer: /lookup finds it, with nobody to connect to.
    assert get_json(lookupd, f"/lookup?topic={topic}") == {"channels": [], "producers": []}
    post_ok(lookupd, f"/channel/create?topic={topic}&channel=ch")
    post_ok(lookupd, f"/topic/delete?topic={topic}")
    assert topic not in get_json(lookupd, "/topics")["topics"]
    assert get_json(lookupd, f"/channels?topic={topic}") == {"channels": []}
    post_ok(lookupd, f"/topic/delete?topic={topic}")  # deleting nothing is no error


def test_channel_create_registers_its_topic_and_delete(lookupd, topic):
    post_ok(lookupd, f"/channel/create?topic={topic}&channel=ch")
    assert topic in get_json(lookupd, "/topics")["topics"]
    assert get_json(lookupd, f"/channels?topic={topic}") == {"channels": ["ch"]}
    post_ok(lookupd, f"/channel/delete?topic={topic}&channel=ch")
    assert get_json(lookupd, f"/channels?topic={topic}") == {"channels": []}
    assert error(lookupd, f"/channel/delete?topic={topic}&channel=ch", "POST") == (
        404, "CHANNEL_NOT_FOUND")


@pytest.mark.parametrize("path, message", [
    ("/topic/create", "MISSING_ARG_TOPIC"),
    ("/topic/create?topic=bad*name", "INVALID_ARG_TOPIC"),
    ("/topic/create?topic=", "INVALID_ARG_TOPIC"),
    ("/topic/delete", "MISSING_ARG_TOPIC"),
    ("/channel/create?channel=c", "MISSING_ARG_TOPIC"),
    ("/channel/create?topic=t*&channel=c", "INVALID_ARG_TOPIC"),
    ("/channel/create?topic=t", "MISSING_ARG_CHANNEL"),
    ("/channel/create?topic=t&channel=" + "c" * 65, "INVALID_ARG_CHANNEL"),
    ("/channel/delete?topic=t", "MISSING_ARG_CHANNEL"),
    ("/topic/tombstone?node=h:1", "MISSING_ARG_TOPIC"),
    ("/topic/tombstone?topic=t", "MISSING_ARG_NODE"),
    ("/topic/create?topic=%G1", "INVALID_REQUEST"),
])
def test_write_errors(lookupd, path, message):
    assert error(lookupd, path, "POST") == (400, message)


def test_tombstone_hides_one_node_of_a_topic(lookupd, nodes, topic):
    kept, retired = nodes(), nodes()
    kept.identify(tcp_port=9150, http_port=9151)
    retired.identify(tcp_port=9250, http_port=9251)
    for node in (kept, retired):
        node.call(f"REGISTER {topic}".encode())
        node.call(f"REGISTER {topic}_other".encode())
    post_ok(lookupd, f"/topic/tombstone?topic={topic}&node=127.0.0.1:9251")
    found = get_json(lookupd, f"/lookup?topic={topic}")
    assert [p["tcp_port"] for p in found["producers"]] == [9150]
    # Only that topic: the node still produces the other one.
    other = get_json(lookupd, f"/lookup?topic={topic}_other")
    assert sorted(p["tcp_port"] for p in other["producers"]) == [9150, 9250]
    # /nodes lists tombstoned nodes, marking which of their topics are tombstoned.
    by_address = {n["remote_address"]: n for n in get_json(lookupd, "/nodes")["producers"]}
    node = by_address[retired.address]
    assert dict(zip(node["topics"], node["tombstones"])) == {topic: True, f"{topic}_other": False}
    # A node name that matches nobody changes nothing.
    post_ok(lookupd, f"/topic/tombstone?topic={topic}&node=127.0.0.1:1")


def test_nodes_shape(lookupd, nodes, topic):
    node = nodes()
    node.identify(tcp_port=9350, http_port=9351, hostname="shape", topology_zone="z1")
    node.call(f"REGISTER {topic} ch".encode())
    found = [n for n in get_json(lookupd, "/nodes")["producers"]
             if n["remote_address"] == node.address]
    assert found == [{"remote_address": node.address, "hostname": "shape",
                      "broadcast_address": "127.0.0.1", "tcp_port": 9350, "http_port": 9351,
                      "version": "1.3.0", "topology_zone": "z1", "topology_region": "",
                      "tombstones": [False], "topics": [topic]}]


def test_debug_lists_registrations_with_their_producers(lookupd, nodes, topic):
    node = nodes()
    node.identify(tcp_port=9450, http_port=9451)
    node.call(f"REGISTER {topic} ch".encode())
    debug = get_json(lookupd, "/debug")
    entry = debug[f"channel:{topic}:ch"][0]
    assert entry["id"] == node.address and entry["tcp_port"] == 9450
    assert entry["tombstoned"] is False and entry["last_update"] > 0
    assert any(p["id"] == node.address for p in debug["client::"])


def _read_until_closed(sock) -> tuple[bytes, float]:
    start, data = time.monotonic(), b""
    while chunk := sock.recv(65536):
        data += chunk
    return data, time.monotonic() - start


def test_not_http_is_answered_400_at_once(lookupd):
    """An nsqd's protocol magic sent to the HTTP port by mistake, as nsqlookupd answers it."""
    host, port = lookupd.http_address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"  V1")
        reply, took = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n") and took < 5


def test_a_silent_connection_is_dropped(tmp_path):
    server = start_lookupd(tmp_path, "--http-header-timeout=300ms")
    try:
        host, port = server.http_address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            reply, took = _read_until_closed(sock)
        assert reply == b"" and 0.2 < took < 5
    finally:
        server.stop()
