"""Protocol V2 over a raw socket: framing, IDENTIFY negotiation, every error code."""
import json
import time

import pytest

from mr.cluster import wait_for
from tests.broker.nsq_client import channel_stats
from tests.broker.wire import Wire

ERROR, RESPONSE = 1, 0


@pytest.fixture
def wire(broker):
    client = Wire(broker)
    yield client
    client.close()


def assert_fatal(client, expected: bytes, line: bytes, body: bytes | None = None):
    assert client.call(line, body) == (ERROR, expected)
    assert client.is_closed()


def test_bad_magic_is_refused(broker):
    client = Wire(broker, magic=b"  V1")
    assert client.frame() == (ERROR, b"E_BAD_PROTOCOL")
    assert client.is_closed()


def test_pub_and_message_frame(wire, topic):
    before = time.time_ns()
    assert wire.call(f"PUB {topic}".encode(), b"hello") == (RESPONSE, b"OK")
    wire.subscribe(topic, "ch")
    timestamp, attempts, msg_id, body = wire.message()
    assert body == b"hello" and attempts == 1
    assert len(msg_id) == 16 and all(c in b"0123456789abcdef" for c in msg_id)
    assert before <= timestamp <= time.time_ns()
    wire.send(b"FIN " + msg_id)
    assert wire.call(b"NOP\nPUB " + topic.encode() + b"_other", b"x") == (RESPONSE, b"OK")


def test_identify_without_negotiation_says_ok(wire):
    assert wire.identify(client_id="c", heartbeat_interval=5000) == (RESPONSE, b"OK")


def test_identify_feature_negotiation(wire):
    frame_type, data = wire.identify(feature_negotiation=True, msg_timeout=5000,
                                     output_buffer_size=4096, output_buffer_timeout=100,
                                     tls_v1=True, user_agent="t/1")
    assert frame_type == RESPONSE
    reply = json.loads(data)
    assert reply["max_rdy_count"] == 2500 and reply["max_msg_timeout"] == 900000
    assert reply["msg_timeout"] == 5000
    assert reply["output_buffer_size"] == 4096 and reply["output_buffer_timeout"] == 100
    # TLS is refused by saying false (this broker has no certificate): plain text goes on.
    assert (reply["tls_v1"], reply["snappy"], reply["deflate"]) == (False, False, False)
    assert reply["deflate_level"] == 6 and reply["max_deflate_level"] == 6
    assert reply["auth_required"] is False and reply["version"]
    assert wire.call(b"PUB neg", b"plain") == (RESPONSE, b"OK")


def test_identify_refuses_deflate_and_snappy_together(wire):
    body = json.dumps({"feature_negotiation": True, "snappy": True, "deflate": True}).encode()
    assert_fatal(wire, b"E_IDENTIFY_FAILED cannot enable both deflate and snappy compression",
                 b"IDENTIFY", body)


@pytest.mark.parametrize("fields, error", [
    ({"heartbeat_interval": 500}, b"IDENTIFY heartbeat interval (500) is invalid"),
    ({"msg_timeout": 10}, b"IDENTIFY msg timeout (10) is invalid"),
    ({"output_buffer_size": 10}, b"IDENTIFY output buffer size (10) is invalid"),
    ({"output_buffer_timeout": 1}, b"IDENTIFY output buffer timeout (1) is invalid"),
    ({"sample_rate": 100}, b"IDENTIFY sample rate (100) is invalid"),
])
def test_identify_out_of_range(wire, fields, error):
    assert_fatal(wire, b"E_BAD_BODY " + error, b"IDENTIFY", json.dumps(fields).encode())


def test_identify_bad_json(wire):
    assert_fatal(wire, b"E_BAD_BODY IDENTIFY failed to decode JSON body", b"IDENTIFY", b"{nope")


def test_identify_bad_size(wire):
    assert_fatal(wire, b"E_BAD_BODY IDENTIFY invalid body size 0", b"IDENTIFY", b"")


def test_identify_after_sub(wire, topic):
    wire.subscribe(topic, "ch")
    assert_fatal(wire, b"E_INVALID cannot IDENTIFY in current state", b"IDENTIFY", b"{}")


def test_invalid_command(wire):
    assert_fatal(wire, b"E_INVALID invalid command BOGUS", b"BOGUS 1 2")


def test_auth_when_disabled(wire):
    assert_fatal(wire, b"E_AUTH_DISABLED AUTH disabled", b"AUTH", b"secret")


@pytest.mark.parametrize("line, body, error", [
    (b"PUB", b"x", b"E_INVALID PUB insufficient number of parameters"),
    (b"PUB bad!topic", b"x", b'E_BAD_TOPIC PUB topic name "bad!topic" is not valid'),
    (b"PUB ok", b"", b"E_BAD_MESSAGE PUB invalid message body size 0"),
    (b"MPUB bad!topic", b"x", b'E_BAD_TOPIC E_BAD_TOPIC MPUB topic name "bad!topic" is not valid'),
    (b"MPUB ok", b"\x00\x00\x00\x00", b"E_BAD_BODY MPUB invalid message count 0"),
    (b"MPUB ok", b"\x00\x00\x00\x01\x00\x00\x00\x00",
     b"E_BAD_MESSAGE MPUB invalid message(0) body size 0"),
    (b"MPUB ok", b"\x00\x00\x00\x02\x00\x00\x00\x01x",
     b"E_BAD_MESSAGE MPUB failed to read message(1) body size"),
    (b"DPUB ok", b"x", b"E_INVALID DPUB insufficient number of parameters"),
    (b"DPUB ok soon", b"x", b"E_INVALID DPUB could not parse timeout soon"),
    (b"DPUB ok 3600001", b"x", b"E_INVALID DPUB timeout 3600001 out of range 0-3600000"),
    (b"SUB ok", None, b"E_INVALID SUB insufficient number of parameters"),
    (b"SUB ok bad!channel", None, b'E_BAD_CHANNEL SUB channel name "bad!channel" is not valid'),
    (b"SUB " + b"x" * 65 + b" ch", None, b'E_BAD_TOPIC SUB topic name "' + b"x" * 65
     + b'" is not valid'),
    (b"RDY 1", None, b"E_INVALID cannot RDY in current state"),
    (b"FIN 0123456789abcdef", None, b"E_INVALID cannot FIN in current state"),
    (b"CLS", None, b"E_INVALID cannot CLS in current state"),
])
def test_fatal_errors(wire, line, body, error):
    assert_fatal(wire, error, line, body)


def test_oversize_messages(small_broker):
    for line, body, error in [
        (b"PUB big", b"x" * 1025, b"E_BAD_MESSAGE PUB message too big 1025 > 1024"),
        (b"DPUB big 10", b"x" * 1025, b"E_BAD_MESSAGE DPUB message too big 1025 > 1024"),
        (b"MPUB big", b"x" * 4097, b"E_BAD_BODY MPUB body too big 4097 > 4096"),
        (b"MPUB big", b"\x00\x00\x00\x01\x00\x00\x04\x01" + b"x" * 1025,
         b"E_BAD_MESSAGE MPUB message too big 1025 > 1024"),
        (b"IDENTIFY", b"{" + b" " * 4096 + b"}", b"E_BAD_BODY IDENTIFY body too big 4098 > 4096"),
    ]:
        client = Wire(small_broker)
        assert_fatal(client, error, line, body)
        client.close()


def test_sub_with_heartbeats_disabled(wire, topic):
    assert wire.identify(heartbeat_interval=-1) == (RESPONSE, b"OK")
    assert_fatal(wire, b"E_INVALID cannot SUB with heartbeats disabled", f"SUB {topic} c".encode())


def test_rdy_limits(wire, topic):
    wire.subscribe(topic, "ch", rdy=0)
    assert_fatal(wire, b"E_INVALID RDY count 2501 out of range 0-2500", b"RDY 2501")


def test_rdy_unparseable(wire, topic):
    wire.subscribe(topic, "ch", rdy=0)
    assert_fatal(wire, b"E_INVALID RDY could not parse count -1", b"RDY -1")


def test_bad_message_id_is_fatal(wire, topic):
    wire.subscribe(topic, "ch")
    assert_fatal(wire, b"E_INVALID invalid message ID", b"FIN short")


def test_fin_req_touch_failures_keep_connection(broker, wire, topic):
    wire.subscribe(topic, "ch")
    unknown = b"0000000000000000"
    not_in_flight = b" 0000000000000000 failed ID not in flight"
    assert wire.call(b"FIN " + unknown) == (ERROR, b"E_FIN_FAILED FIN" + not_in_flight)
    assert wire.call(b"REQ " + unknown + b" 0") == (ERROR, b"E_REQ_FAILED REQ" + not_in_flight)
    assert wire.call(b"TOUCH " + unknown) == (ERROR, b"E_TOUCH_FAILED TOUCH" + not_in_flight)
    assert_fatal(wire, b"E_INVALID REQ could not parse timeout soon", b"REQ " + unknown + b" soon")


def test_fin_of_another_clients_message(broker, topic):
    owner, other = Wire(broker), Wire(broker)
    assert owner.call(f"PUB {topic}".encode(), b"mine") == (RESPONSE, b"OK")
    owner.subscribe(topic, "ch")
    other.subscribe(topic, "ch")
    _, _, msg_id, _ = owner.message()
    assert other.call(b"FIN " + msg_id) == (
        ERROR, b"E_FIN_FAILED FIN " + msg_id + b" failed client does not own message")
    owner.send(b"FIN " + msg_id)
    wait_for(lambda: channel_stats(broker, topic, "ch")["in_flight_count"] == 0)
    owner.close()
    other.close()


def test_rdy_is_flow_control(broker, wire, topic):
    assert wire.mpub(topic, [b"%d" % i for i in range(5)]) == (RESPONSE, b"OK")
    wire.subscribe(topic, "ch", rdy=2)
    first = wire.message()
    wire.message()
    stats = wait_for(lambda: channel_stats(broker, topic, "ch"))
    assert (stats["in_flight_count"], stats["depth"]) == (2, 3)
    wire.send(b"FIN " + first[2])
    wire.message()
    wait_for(lambda: channel_stats(broker, topic, "ch")["depth"] == 2)
    assert channel_stats(broker, topic, "ch")["in_flight_count"] == 2


def test_req_delay_and_attempts(wire, topic):
    assert wire.call(f"PUB {topic}".encode(), b"again") == (RESPONSE, b"OK")
    wire.subscribe(topic, "ch", rdy=5)
    _, attempts, msg_id, _ = wire.message()
    sent = time.monotonic()
    wire.send(b"REQ " + msg_id + b" 300")
    _, attempts_again, same_id, _ = wire.message()
    assert time.monotonic() - sent >= 0.25
    assert (attempts, attempts_again, same_id) == (1, 2, msg_id)


def test_cls(wire, topic):
    wire.subscribe(topic, "ch", rdy=0)
    assert wire.call(b"CLS") == (RESPONSE, b"CLOSE_WAIT")
    assert wire.call(b"RDY 5\nNOP\nPUB " + topic.encode() + b"_other", b"x") == (RESPONSE, b"OK")


def test_missed_heartbeats_disconnect_and_requeue(broker, topic):
    silent = Wire(broker)
    assert silent.identify(heartbeat_interval=1000) == (RESPONSE, b"OK")
    assert silent.call(f"PUB {topic}".encode(), b"orphan") == (RESPONSE, b"OK")
    silent.subscribe(topic, "ch")
    silent.message()
    assert silent.frame(skip_heartbeats=False) == (RESPONSE, b"_heartbeat_")
    # Never answer: after two missed heartbeats the broker hangs up and requeues.
    started = time.monotonic()
    wait_for(silent.is_closed, timeout=6, message="disconnect")
    assert time.monotonic() - started >= 0.5
    other = Wire(broker)
    other.subscribe(topic, "ch")
    _, attempts, _, body = other.message()
    assert (body, attempts) == (b"orphan", 2)
    silent.close()
    other.close()


def test_heartbeat_answered_keeps_connection(broker, wire, topic):
    assert wire.identify(heartbeat_interval=1000) == (RESPONSE, b"OK")
    for _ in range(3):
        assert wire.frame(skip_heartbeats=False) == (RESPONSE, b"_heartbeat_")
        wire.send(b"NOP")
    assert wire.call(f"PUB {topic}".encode(), b"alive") == (RESPONSE, b"OK")


def test_ephemeral_channel_goes_away(broker, topic):
    client = Wire(broker)
    client.subscribe(topic, "eph#ephemeral")
    assert channel_stats(broker, topic, "eph#ephemeral") is not None
    client.close()
    wait_for(lambda: channel_stats(broker, topic, "eph#ephemeral") is None)
