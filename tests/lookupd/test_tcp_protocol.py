"""mr_lookupd's TCP protocol V1 on raw sockets: the bytes nsqd sends and gets back."""
from __future__ import annotations

import json
import socket

import pytest

from mr.cluster import wait_for
from tests.lookupd.conftest import get_json, http


def producers(lookupd, topic: str) -> list[dict]:
    status, _, body = http(lookupd, f"/lookup?topic={topic}")
    return json.loads(body)["producers"] if status == 200 else []


def test_identify_reply_names_the_lookupd(lookupd, nodes):
    node = nodes()
    reply = node.identify()
    host, tcp_port = lookupd.address.rsplit(":", 1)
    assert reply["tcp_port"] == int(tcp_port)
    assert reply["http_port"] == int(lookupd.http_address.rsplit(":", 1)[1])
    assert reply["broadcast_address"] == "127.0.0.1"
    assert reply["hostname"] == socket.gethostname()
    assert reply["version"].startswith("1.3.0")
    # Go marshals a map with sorted keys.
    assert list(reply) == sorted(reply)


def test_register_shows_in_lookup_and_nodes(lookupd, nodes, topic):
    node = nodes()
    node.identify(tcp_port=5150, http_port=5151, hostname="alpha")
    assert node.call(f"REGISTER {topic} ch".encode()) == b"OK"
    assert node.call(f"REGISTER {topic}2".encode()) == b"OK"
    found = get_json(lookupd, f"/lookup?topic={topic}")
    assert found["channels"] == ["ch"]
    assert found["producers"] == [{
        "remote_address": node.address, "hostname": "alpha", "broadcast_address": "127.0.0.1",
        "tcp_port": 5150, "http_port": 5151, "version": "1.3.0", "topology_zone": "",
        "topology_region": ""}]
    mine = [n for n in get_json(lookupd, "/nodes")["producers"]
            if n["remote_address"] == node.address]
    assert mine[0]["topics"] == sorted([topic, f"{topic}2"])
    assert mine[0]["tombstones"] == [False, False]


def test_ping_answers_ok_before_and_after_identify(nodes):
    node = nodes()
    assert node.call(b"PING") == b"OK"
    node.identify()
    assert node.call(b"PING") == b"OK"


def test_unregister_channel_then_topic(lookupd, nodes, topic):
    node = nodes()
    node.identify()
    node.call(f"REGISTER {topic} a".encode())
    node.call(f"REGISTER {topic} b".encode())
    assert node.call(f"UNREGISTER {topic} a".encode()) == b"OK"
    # The channel stays known (with no producer), as in nsqlookupd.
    assert get_json(lookupd, f"/lookup?topic={topic}")["producers"]
    # A topic UNREGISTER takes the node's channels with it.
    assert node.call(f"UNREGISTER {topic}".encode()) == b"OK"
    assert get_json(lookupd, f"/lookup?topic={topic}")["producers"] == []
    debug = get_json(lookupd, "/debug")
    assert debug[f"channel:{topic}:b"] == [] and debug[f"topic:{topic}:"] == []


def test_ephemeral_registrations_vanish_with_their_last_producer(lookupd, nodes, topic):
    node = nodes()
    node.identify()
    node.call(f"REGISTER {topic} tail#ephemeral".encode())
    assert get_json(lookupd, f"/channels?topic={topic}")["channels"] == ["tail#ephemeral"]
    node.call(f"UNREGISTER {topic} tail#ephemeral".encode())
    assert get_json(lookupd, f"/channels?topic={topic}")["channels"] == []
    node.call(f"REGISTER {topic}#ephemeral".encode())
    assert f"{topic}#ephemeral" in get_json(lookupd, "/topics")["topics"]
    node.call(f"UNREGISTER {topic}#ephemeral".encode())
    assert f"{topic}#ephemeral" not in get_json(lookupd, "/topics")["topics"]


def test_disconnect_drops_every_registration_of_the_node(lookupd, nodes, topic):
    first, second = nodes(), nodes()
    first.identify(tcp_port=6150, http_port=6151)
    second.identify(tcp_port=7150, http_port=7151)
    for node in (first, second):
        node.call(f"REGISTER {topic} ch".encode())
    assert len(producers(lookupd, topic)) == 2
    gone = first.address
    first.close()
    wait_for(lambda: [p["tcp_port"] for p in producers(lookupd, topic)] == [7150],
             message="the closed node's registrations gone")
    assert gone not in {n["remote_address"]
                                 for n in get_json(lookupd, "/nodes")["producers"]}


@pytest.mark.parametrize("line, body, expected", [
    (b"REGISTER t", None, b"E_INVALID client must IDENTIFY"),
    (b"UNREGISTER t c", None, b"E_INVALID client must IDENTIFY"),
    (b"BOGUS", None, b"E_INVALID invalid command BOGUS"),
    (b"", None, b"E_INVALID invalid command "),
    (b"IDENTIFY", b"{not json", b"E_BAD_BODY IDENTIFY failed to decode JSON body"),
    (b"IDENTIFY", b'{"broadcast_address": "h", "tcp_port": "4150", "http_port": 1, '
                  b'"version": "1"}', b"E_BAD_BODY IDENTIFY failed to decode JSON body"),
    (b"IDENTIFY", b'{"broadcast_address": "h", "tcp_port": 4150, "version": "1"}',
     b"E_BAD_BODY IDENTIFY missing fields"),
])
def test_errors_are_replied_then_the_connection_closes(nodes, line, body, expected):
    node = nodes()
    assert node.call(line, body) == expected
    assert wait_for(node.is_closed, message="lookupd closing the connection")


@pytest.mark.parametrize("line, expected", [
    (b"REGISTER", b"E_INVALID REGISTER insufficient number of params"),
    (b"UNREGISTER", b"E_INVALID UNREGISTER insufficient number of params"),
    (b"REGISTER bad*topic", b"E_BAD_TOPIC REGISTER topic name 'bad*topic' is not valid"),
    (b"UNREGISTER t bad/chan", b"E_BAD_CHANNEL UNREGISTER channel name 'bad/chan' is not valid"),
])
def test_bad_names_and_params_after_identify(nodes, line, expected):
    node = nodes()
    node.identify()
    assert node.call(line) == expected
    assert wait_for(node.is_closed, message="lookupd closing the connection")


def test_identify_twice_is_refused(nodes):
    node = nodes()
    node.identify()
    assert node.call(b"IDENTIFY", b"{}") == b"E_INVALID cannot IDENTIFY again"
    assert wait_for(node.is_closed, message="lookupd closing the connection")


def test_truncated_identify_body(lookupd, nodes):
    node = nodes()
    node.sock.sendall(b"IDENTIFY\n\x00\x00\x00\x10{}")
    node.sock.shutdown(socket.SHUT_WR)
    assert node.reply() == b"E_BAD_BODY IDENTIFY failed to read body"


def test_bad_magic_is_refused(nodes):
    node = nodes(magic=b"  V2")
    assert node.reply() == b"E_BAD_PROTOCOL"
    assert wait_for(node.is_closed, message="lookupd closing the connection")
