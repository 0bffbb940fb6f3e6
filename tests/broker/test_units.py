"""Pure logic: framing, names, IDENTIFY rules, flags and the disk queue."""
import argparse
import struct
import subprocess
import sys

import pytest

from mr.broker.identify import IdentifyError, negotiate
from mr.broker.message import IdGenerator, Message, decode_message
from mr.broker.options import Options, parse_args, parse_duration
from mr.broker.protocol import (
    FatalClientError,
    decode_mpub,
    encode_mpub,
    frame,
    is_valid_name,
    message_frame,
    parse_base10,
)
from mr.broker.store import DiskQueue


def test_frames():
    assert frame(0, b"OK") == b"\x00\x00\x00\x06\x00\x00\x00\x00OK"
    data = message_frame(7, 2, b"0123456789abcdef", b"body")
    size, kind, ts, attempts = struct.unpack(">iiqH", data[:18])
    assert (size, kind, ts, attempts) == (4 + 26 + 4, 2, 7, 2)
    assert data[18:] == b"0123456789abcdefbody"


@pytest.mark.parametrize("name, valid", [
    ("a", True), ("a.b-c_D9", True), ("x" * 64, True), ("x" * 65, False), ("", False),
    ("ch#ephemeral", True), ("ch#other", False), ("a b", False), ("#ephemeral", False),
    ("ü", False),
])
def test_names(name, valid):
    assert is_valid_name(name) is valid


def test_parse_base10():
    assert parse_base10(b"0042") == 42 and parse_base10(b"") == 0
    for bad in (b"-1", b"+1", b"1.5", b" 1"):
        with pytest.raises(ValueError):
            parse_base10(bad)


def test_mpub_round_trip_and_errors():
    bodies = [b"a", b"bb", b"\n"]
    assert decode_mpub(encode_mpub(bodies), 10, 100) == bodies
    with pytest.raises(FatalClientError, match="E_BAD_BODY MPUB invalid message count 100"):
        decode_mpub(struct.pack(">i", 100), 10, 100)  # more than (100 - 4) / 5 could fit
    with pytest.raises(FatalClientError, match="E_BAD_MESSAGE MPUB message too big 11 > 10"):
        decode_mpub(encode_mpub([b"x" * 11]), 10, 100)


def test_message_encoding_and_ids():
    ids = IdGenerator(node_id=5)
    first, second = ids.new_id(), ids.new_id()
    assert first != second and len(first) == 16 and int(second, 16) == int(first, 16) + 1
    message = Message(first, b"payload", timestamp=123, attempts=3)
    again = decode_message(message.encode())
    assert (again.id, again.body, again.timestamp, again.attempts) == (first, b"payload", 123, 3)


def test_identify_defaults_and_limits():
    opts = Options()
    result = negotiate({}, opts)
    assert result.response == b"OK" and result.heartbeat_interval == 30.0
    assert result.msg_timeout == 60.0
    result = negotiate({"heartbeat_interval": -1, "output_buffer_size": -1}, opts)
    assert result.heartbeat_interval == 0 and result.output_buffer_size == 1
    assert result.output_buffer_timeout == 0
    with pytest.raises(IdentifyError):
        negotiate({"msg_timeout": 900001}, opts)
    with pytest.raises(ValueError):
        negotiate({"heartbeat_interval": "soon"}, opts)


def test_durations():
    assert parse_duration("250ms") == 0.25
    assert parse_duration("1m30s") == 90.0
    assert parse_duration("1.5h") == 5400.0
    assert parse_duration("0") == 0.0
    for bad in ("", "10", "5 s", "1x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_duration(bad)


def test_flags_go_and_gnu_style():
    opts, version = parse_args(["-tcp-address=127.0.0.1:1", "--msg-timeout", "2s",
                                "--lookupd-tcp-address", "a:1", "-lookupd-tcp-address", "b:2"])
    assert opts.tcp_address == "127.0.0.1:1" and opts.msg_timeout == 2.0
    assert opts.lookupd_tcp_addresses == ["a:1", "b:2"] and not version


@pytest.mark.parametrize("argv, text", [
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["--statsd-address", "127.0.0.1:8125"],
     "nsqd flag '--statsd-address' is not supported by mr_broker: poll GET /stats"),
    (["--max-deflate-level=10"], "--max-deflate-level must be [1,9]"),
    (["--snappy=maybe"], "invalid boolean value 'maybe'"),
    (["--tls-cert", "x"], "--tls-cert and --tls-key go together"),
    (["--tls-required"], "cannot require TLS client connections without TLS key and cert"),
    (["--tls-cert", "/nonexistent", "--tls-key", "/nonexistent"], "failed to build TLS config"),
    (["--node-id", "2000"], "--node-id must be in [0,1024)"),
    (["--msg-timeout", "ten"], "invalid duration"),
])
def test_bad_flags_exit_with_a_clear_message(argv, text):
    run = subprocess.run([sys.executable, "-m", "mr.broker", *argv], capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 2 and text in run.stderr, run.stderr


def test_disk_queue_round_trip_and_segments(tmp_path):
    queue = DiskQueue(tmp_path, "t:c", max_bytes_per_file=100, sync_every=3, max_record_size=50)
    records = [b"r%02d" % i + b"x" * 20 for i in range(20)]
    queue.put(records[:10])
    queue.put(records[10:])
    assert queue.depth == 20
    assert len(list(tmp_path.glob("t:c.diskqueue.*.dat"))) > 1  # rolled over
    assert [queue.pop() for _ in range(5)] == records[:5]
    queue.close()
    reopened = DiskQueue(tmp_path, "t:c", 100, 3, 50)
    assert reopened.depth == 15
    assert [reopened.pop() for _ in range(15)] == records[5:]
    assert reopened.pop() is None


def test_disk_queue_truncates_torn_tail(tmp_path):
    queue = DiskQueue(tmp_path, "t", 1 << 20, 1, 50)
    queue.put([b"one", b"two"])
    queue.close()
    (segment,) = tmp_path.glob("t.diskqueue.*.dat")
    with open(segment, "ab") as f:
        f.write(b"\x00\x00\x00\x05\x00")  # half a header: a write cut short by a crash
    reopened = DiskQueue(tmp_path, "t", 1 << 20, 1, 50)
    assert reopened.depth == 2
    reopened.put([b"three"])
    assert [reopened.pop() for _ in range(3)] == [b"one", b"two", b"three"]


def test_disk_queue_crc_stops_at_corruption(tmp_path):
    queue = DiskQueue(tmp_path, "t", 1 << 20, 1, 50)
    queue.put([b"good", b"bad!"])
    queue.close()
    (segment,) = tmp_path.glob("t.diskqueue.*.dat")
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert DiskQueue(tmp_path, "t", 1 << 20, 1, 50).depth == 1
