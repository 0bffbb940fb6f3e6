"""nsqd's HTTP API on mr_broker: every endpoint, its errors and status codes."""
import struct
import time

import pytest
import requests

from mr.cluster import wait_for
from tests.broker.nsq_client import channel_stats
from tests.broker.wire import Wire


def post(broker, path, data=b"", **params):
    return requests.post(broker.url(path), params=params, data=data, timeout=5)


def topic_stats(broker, topic):
    stats = requests.get(broker.url("/stats"), params={"format": "json", "topic": topic},
                         timeout=5).json()
    return next((t for t in stats["topics"] if t["topic_name"] == topic), None)


def assert_error(reply, status, message):
    assert reply.status_code == status, reply.text
    assert reply.json() == {"message": message}
    assert reply.headers["X-NSQ-Content-Type"] == "nsq; version=1.0"


def test_ping(broker):
    reply = requests.get(broker.url("/ping"), timeout=5)
    assert (reply.status_code, reply.text) == (200, "OK")


def test_info(broker):
    info = requests.get(broker.url("/info"), timeout=5).json()
    assert info["tcp_port"] == broker.tcp_port and info["http_port"] == broker.http_port
    assert info["version"] and info["start_time"] <= time.time()
    assert info["max_heartbeat_interval"] == 60 * 10**9  # a Go duration: nanoseconds


def test_unknown_path_and_wrong_method(broker):
    assert_error(requests.get(broker.url("/nope"), timeout=5), 404, "NOT_FOUND")
    assert_error(requests.get(broker.url("/pub"), timeout=5), 405, "METHOD_NOT_ALLOWED")


def test_pub_then_consume(broker, topic):
    reply = post(broker, "/pub", b"via http", topic=topic)
    assert (reply.status_code, reply.text) == (200, "OK")
    client = Wire(broker)
    client.subscribe(topic, "ch")
    assert client.message()[3] == b"via http"
    client.close()


def test_pub_defer(broker, topic):
    client = Wire(broker)
    client.subscribe(topic, "ch")
    wait_for(lambda: channel_stats(broker, topic, "ch"))
    sent = time.monotonic()
    assert post(broker, "/pub", b"later", topic=topic, defer="500").status_code == 200
    assert channel_stats(broker, topic, "ch")["deferred_count"] == 1
    assert client.message()[3] == b"later"
    assert time.monotonic() - sent >= 0.45
    client.close()


@pytest.mark.parametrize("params, body, status, message", [
    ({}, b"x", 400, "MISSING_ARG_TOPIC"),
    ({"topic": "bad!name"}, b"x", 400, "INVALID_TOPIC"),
    ({"topic": "ok"}, b"", 400, "MSG_EMPTY"),
    ({"topic": "ok", "defer": "soon"}, b"x", 400, "INVALID_DEFER"),
    ({"topic": "ok", "defer": "-1"}, b"x", 400, "INVALID_DEFER"),
    ({"topic": "ok", "defer": "3600001"}, b"x", 400, "INVALID_DEFER"),
])
def test_pub_errors(broker, params, body, status, message):
    assert_error(post(broker, "/pub", body, **params), status, message)


def test_pub_too_big(small_broker):
    assert_error(post(small_broker, "/pub", b"x" * 1025, topic="big"), 413, "MSG_TOO_BIG")
    assert post(small_broker, "/pub", b"x" * 1024, topic="big").status_code == 200


def test_mpub_newlines(broker, topic):
    reply = post(broker, "/mpub", b"one\ntwo\n\nthree\n", topic=topic)
    assert (reply.status_code, reply.text) == (200, "OK")
    assert topic_stats(broker, topic)["depth"] == 3  # the empty line is skipped, as nsqd does


def test_mpub_binary(broker, topic):
    bodies = [b"a\nb", b"\x00\x01", b"c"]
    payload = struct.pack(">i", len(bodies)) + b"".join(
        struct.pack(">i", len(b)) + b for b in bodies)
    assert post(broker, "/mpub", payload, topic=topic, binary="true").status_code == 200
    client = Wire(broker)
    client.subscribe(topic, "ch", rdy=3)
    assert [client.message()[3] for _ in bodies] == bodies
    client.close()


def test_mpub_errors(small_broker):
    assert_error(post(small_broker, "/mpub", b"x"), 400, "MISSING_ARG_TOPIC")
    assert_error(post(small_broker, "/mpub", b"x", topic="bad!"), 400, "INVALID_TOPIC")
    assert_error(post(small_broker, "/mpub", b"x" * 4097, topic="t"), 413, "BODY_TOO_BIG")
    assert_error(post(small_broker, "/mpub", b"x" * 1025 + b"\n", topic="t"), 413, "MSG_TOO_BIG")
    assert_error(post(small_broker, "/mpub", b"\x00\x00\x00\x00", topic="t", binary="1"),
                 413, "BAD_BODY")
    assert_error(post(small_broker, "/mpub", b"\x00\x00\x00\x01\x00\x00\x00\x05ab", topic="t",
                      binary="1"), 413, "BAD_MESSAGE")


def test_stats_json_and_text(broker, topic):
    post(broker, "/pub", b"x", topic=topic)
    post(broker, "/channel/create", topic=topic, channel="ch")
    consumer = Wire(broker)
    consumer.subscribe(topic, "ch", rdy=0)
    stats = requests.get(broker.url("/stats"), params={"format": "json"}, timeout=5).json()
    assert stats["health"] == "OK" and "version" in stats and "producers" in stats
    topic_entry = next(t for t in stats["topics"] if t["topic_name"] == topic)
    channel = topic_entry["channels"][0]
    assert channel["channel_name"] == "ch" and channel["depth"] == 1
    assert channel["client_count"] == 1 and channel["clients"][0]["ready_count"] == 0
    text = requests.get(broker.url("/stats"), timeout=5).text
    assert f"[{topic}" in text and "[ch" in text
    consumer.close()


def test_topic_create_delete(broker, topic):
    assert post(broker, "/topic/create", topic=topic).status_code == 200
    assert topic_stats(broker, topic) is not None
    assert post(broker, "/topic/delete", topic=topic).status_code == 200
    assert topic_stats(broker, topic) is None
    assert_error(post(broker, "/topic/delete", topic=topic), 404, "TOPIC_NOT_FOUND")
    assert_error(post(broker, "/topic/create"), 400, "MISSING_ARG_TOPIC")
    assert_error(post(broker, "/topic/create", topic="no good"), 400, "INVALID_TOPIC")
    assert_error(post(broker, "/topic/delete"), 400, "MISSING_ARG_TOPIC")


def test_topic_empty(broker, topic):
    post(broker, "/mpub", b"a\nb", topic=topic)
    assert topic_stats(broker, topic)["depth"] == 2
    assert post(broker, "/topic/empty", topic=topic).status_code == 200
    assert topic_stats(broker, topic)["depth"] == 0
    assert_error(post(broker, "/topic/empty"), 400, "MISSING_ARG_TOPIC")
    assert_error(post(broker, "/topic/empty", topic="bad!"), 400, "INVALID_TOPIC")
    assert_error(post(broker, "/topic/empty", topic=topic + "x"), 404, "TOPIC_NOT_FOUND")


def test_topic_pause_unpause(broker, topic):
    post(broker, "/topic/create", topic=topic)
    post(broker, "/channel/create", topic=topic, channel="ch")
    assert post(broker, "/topic/pause", topic=topic).status_code == 200
    post(broker, "/pub", b"held", topic=topic)
    stats = topic_stats(broker, topic)
    assert stats["paused"] and stats["depth"] == 1 and stats["channels"][0]["depth"] == 0
    assert post(broker, "/topic/unpause", topic=topic).status_code == 200
    stats = topic_stats(broker, topic)
    assert not stats["paused"] and stats["depth"] == 0 and stats["channels"][0]["depth"] == 1
    assert_error(post(broker, "/topic/pause"), 400, "MISSING_ARG_TOPIC")
    assert_error(post(broker, "/topic/unpause", topic=topic + "x"), 404, "TOPIC_NOT_FOUND")


def test_channel_create_delete_empty(broker, topic):
    assert_error(post(broker, "/channel/create", topic=topic, channel="ch"), 404,
                 "TOPIC_NOT_FOUND")
    post(broker, "/topic/create", topic=topic)
    assert post(broker, "/channel/create", topic=topic, channel="ch").status_code == 200
    post(broker, "/mpub", b"a\nb", topic=topic)
    assert channel_stats(broker, topic, "ch")["depth"] == 2
    assert post(broker, "/channel/empty", topic=topic, channel="ch").status_code == 200
    assert channel_stats(broker, topic, "ch")["depth"] == 0
    assert post(broker, "/channel/delete", topic=topic, channel="ch").status_code == 200
    assert channel_stats(broker, topic, "ch") is None
    for action in ("delete", "empty"):
        assert_error(post(broker, f"/channel/{action}", topic=topic, channel="ch"), 404,
                     "CHANNEL_NOT_FOUND")


@pytest.mark.parametrize("path", ["/channel/create", "/channel/delete", "/channel/empty",
                                  "/channel/pause", "/channel/unpause"])
def test_channel_argument_errors(broker, path):
    assert_error(post(broker, path), 400, "MISSING_ARG_TOPIC")
    assert_error(post(broker, path, topic="bad!"), 400, "INVALID_ARG_TOPIC")
    assert_error(post(broker, path, topic="ok"), 400, "MISSING_ARG_CHANNEL")
    assert_error(post(broker, path, topic="ok", channel="bad!"), 400, "INVALID_ARG_CHANNEL")


def test_channel_pause_unpause(broker, topic):
    post(broker, "/topic/create", topic=topic)
    post(broker, "/channel/create", topic=topic, channel="ch")
    assert post(broker, "/channel/pause", topic=topic, channel="ch").status_code == 200
    consumer = Wire(broker)
    consumer.subscribe(topic, "ch")
    post(broker, "/pub", b"waits", topic=topic)
    stats = channel_stats(broker, topic, "ch")
    assert stats["paused"] and stats["depth"] == 1 and stats["in_flight_count"] == 0
    assert post(broker, "/channel/unpause", topic=topic, channel="ch").status_code == 200
    assert consumer.message()[3] == b"waits"
    assert_error(post(broker, "/channel/pause", topic=topic, channel="nope"), 404,
                 "CHANNEL_NOT_FOUND")
    consumer.close()
