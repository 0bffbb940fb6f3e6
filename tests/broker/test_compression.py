"""Deflate and snappy negotiated in IDENTIFY, checked on the wire and with pynsq.

The raw-socket client compresses with zlib and python-snappy itself, so what is checked is
the bytes nsqd's clients expect: raw deflate with sync flushes, snappy's framing format.
"""
from __future__ import annotations

import json
import os
import zlib

import pytest
import snappy

from tests.broker.nsq_client import NsqLoop, channel_stats
from tests.broker.test_tls import server_only
from tests.broker.wire import Wire
from tests.support.broker import start_broker

RESPONSE = 0
BODY = b"all work and no play makes jack a dull boy " * 2000  # 86 kB, very compressible


class _Compressed:
    """A socket seen through a codec; counts the compressed bytes that arrive."""

    def __init__(self, sock, compress, decompress) -> None:
        self.sock, self._compress, self.decompress = sock, compress, decompress
        self.raw_received = 0

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(self._compress(data))

    def recv(self, size: int) -> bytes:
        while True:
            chunk = self.sock.recv(size)
            self.raw_received += len(chunk)
            if not chunk:
                return b""
            data = self.decompress(chunk)
            if data:
                return data


def deflated(sock, level: int) -> _Compressed:
    out = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return _Compressed(sock, lambda d: out.compress(d) + out.flush(zlib.Z_SYNC_FLUSH),
                       zlib.decompressobj(-zlib.MAX_WBITS).decompress)


def snappied(sock) -> _Compressed:
    return _Compressed(sock, snappy.StreamCompressor().compress,
                       snappy.StreamDecompressor().decompress)


def compress(wire: Wire, sock: _Compressed) -> None:
    """Switch `wire` to `sock`, decompressing what arrived with the plain frames before."""
    leftover, wire.sock = wire._buf, sock
    wire._buf = sock.decompress(leftover) if leftover else b""


def _negotiate(wire: Wire, **fields) -> dict:
    frame_type, data = wire.identify(feature_negotiation=True, **fields)
    assert frame_type == RESPONSE, data
    return json.loads(data)


def _round_trip(wire: Wire, topic: str) -> None:
    """Publish a large body and get it back over the compressed connection."""
    assert wire.call(f"PUB {topic}".encode(), BODY) == (RESPONSE, b"OK")
    wire.subscribe(topic, "c")
    assert wire.message()[3] == BODY


def _client_fields(broker, topic: str) -> dict:
    return channel_stats(broker, topic, "c")["clients"][0]


def test_deflate_on_the_wire(broker, topic):
    wire = Wire(broker)
    reply = _negotiate(wire, deflate=True, deflate_level=3)
    assert reply["deflate"] is True and reply["deflate_level"] == 3 and not reply["snappy"]
    compress(wire, deflated(wire.sock, 3))
    assert wire.frame() == (RESPONSE, b"OK")  # the first compressed frame
    _round_trip(wire, topic)
    assert wire.sock.raw_received < len(BODY) / 20  # it really arrived compressed
    fields = _client_fields(broker, topic)
    assert fields["deflate"] is True and fields["snappy"] is False


def test_snappy_on_the_wire(broker, topic):
    wire = Wire(broker)
    reply = _negotiate(wire, snappy=True)
    assert reply["snappy"] is True and not reply["deflate"]
    compress(wire, snappied(wire.sock))
    assert wire.frame() == (RESPONSE, b"OK")
    _round_trip(wire, topic)
    assert wire.sock.raw_received < len(BODY) / 10
    fields = _client_fields(broker, topic)
    assert fields["snappy"] is True and fields["deflate"] is False


def test_garbage_instead_of_deflate_closes_the_connection(broker):
    wire = Wire(broker)
    _negotiate(wire, deflate=True)
    compress(wire, deflated(wire.sock, 6))
    assert wire.frame() == (RESPONSE, b"OK")
    wire.sock.sock.sendall(b"\xff" * 64)  # not a deflate stream
    assert wire.is_closed()


@pytest.fixture(scope="module")
def plain_only(tmp_path_factory):
    server = start_broker(tmp_path_factory.mktemp("plain"), "--snappy=false", "--deflate=false")
    yield server
    server.stop()


def test_compression_turned_off_is_refused_by_saying_false(plain_only, topic):
    for fields in ({"snappy": True}, {"deflate": True}):
        wire = Wire(plain_only)
        reply = _negotiate(wire, **fields)
        assert (reply["snappy"], reply["deflate"]) == (False, False)
        assert wire.call(f"PUB {topic}".encode(), b"plain") == (RESPONSE, b"OK")


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    server = start_broker(tmp_path_factory.mktemp("capped"), "--max-deflate-level=2")
    yield server
    server.stop()


def test_deflate_level_is_capped(capped, topic):
    wire = Wire(capped)
    reply = _negotiate(wire, deflate=True, deflate_level=9)
    assert (reply["deflate_level"], reply["max_deflate_level"]) == (2, 2)
    compress(wire, deflated(wire.sock, 2))
    assert wire.frame() == (RESPONSE, b"OK")
    _round_trip(wire, topic)


@pytest.mark.parametrize("codec", ["snappy", "deflate"])
def test_pynsq_writer_and_reader_compressed(broker, topic, codec):
    """pynsq asks for compression (its own snappy and deflate sockets) and both work."""
    loop = NsqLoop()
    try:
        writer = loop.writer(broker, **{codec: True})
        bodies = [BODY + b"%d" % i for i in range(5)]
        for body in bodies:
            loop.publish(writer, "pub", topic, body)
        received = []
        loop.reader(broker, topic, "c", lambda m: received.append(m.body) or True,
                    **{codec: True})
        loop.run_until(lambda: len(received) == 5, message="5 compressed messages")
        assert sorted(received) == sorted(bodies)
        fields = _client_fields(broker, topic)
        assert fields[codec] is True and fields["user_agent"].startswith("pynsq")
    finally:
        loop.close()


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    from tests.support import tls
    certs = tls.make_certificates(tmp_path_factory.mktemp("certs"))
    server = start_broker(tmp_path_factory.mktemp("tls"), "--tls-cert", str(certs.server.cert),
                          "--tls-key", str(certs.server.key))
    yield server, certs
    server.stop()


@pytest.mark.parametrize("codec", ["snappy", "deflate"])
def test_compression_inside_tls(tls_broker, topic, codec):
    """TLS first, then compression inside it, each confirmed by its own OK (as nsqd)."""
    broker, certs = tls_broker
    wire = Wire(broker)
    reply = _negotiate(wire, tls_v1=True, **{codec: True})
    assert reply["tls_v1"] is True and reply[codec] is True
    wire.sock = server_only(certs).wrap_socket(wire.sock, server_hostname="127.0.0.1")
    assert wire.frame() == (RESPONSE, b"OK")  # over TLS, not compressed
    compress(wire, snappied(wire.sock) if codec == "snappy" else deflated(wire.sock, 6))
    assert wire.frame() == (RESPONSE, b"OK")  # over TLS, compressed
    _round_trip(wire, topic)
    fields = _client_fields(broker, topic)
    assert fields["tls"] is True and fields[codec] is True


@pytest.mark.parametrize("codec", ["snappy", "deflate"])
def test_pynsq_compressed_inside_tls(tls_broker, topic, codec):
    """pynsq's Writer and Reader with TLS and compression: its compressing socket wraps its
    TLS socket, the broker reports both, and bodies small, large and incompressible arrive."""
    import ssl

    from nsq.deflate_socket import DeflateSocket
    from nsq.snappy_socket import SnappySocket
    broker, certs = tls_broker
    options = {"tls_v1": True, "tls_options": {"cert_reqs": ssl.CERT_REQUIRED,
                                               "ca_certs": str(certs.ca)}, codec: True}
    loop = NsqLoop()
    try:
        writer = loop.writer(broker, **options)
        bodies = [b"small", BODY, os.urandom(40_000), b"after"]
        for body in bodies:
            loop.publish(writer, "pub", topic, body)
        received = []
        reader = loop.reader(broker, topic, "c", lambda m: received.append(m.body) or True,
                             **options)
        loop.run_until(lambda: len(received) == len(bodies), message="messages over TLS")
        assert sorted(received) == sorted(bodies)
        conn = next(iter(reader.conns.values()))
        assert isinstance(conn.socket, SnappySocket if codec == "snappy" else DeflateSocket)
        assert isinstance(conn.socket._socket, ssl.SSLSocket)
        fields = _client_fields(broker, topic)
        assert fields["tls"] is True and fields[codec] is True
    finally:
        loop.close()


def _whole_chunks(record: bytes) -> bool:
    """Whether `record` is a run of complete snappy framing chunks (type, 3-byte length)."""
    at = 0
    while at < len(record):
        if at + 4 > len(record):
            return False
        at += 4 + int.from_bytes(record[at + 1:at + 4], "little")
    return at == len(record)


def test_snappy_over_tls_puts_whole_chunks_in_each_record(tls_broker, topic):
    """What keeps pynsq's snappy socket working over TLS (it closes the connection when a read
    decompresses to nothing): a TLS record never ends inside a snappy chunk. A read from a TLS
    socket returns one record at most, so each read here must be whole chunks."""
    broker, certs = tls_broker
    wire = Wire(broker)
    _negotiate(wire, tls_v1=True, snappy=True)
    wire.sock = server_only(certs).wrap_socket(wire.sock, server_hostname="127.0.0.1")
    assert wire.frame() == (RESPONSE, b"OK")
    records: list[bytes] = []
    tls_sock, decompress = wire.sock, snappy.StreamDecompressor().decompress

    class Recording:
        def sendall(self, data: bytes) -> None:
            tls_sock.sendall(snappy.StreamCompressor().compress(data))

        def recv(self, size: int) -> bytes:
            record = tls_sock.recv(size)
            records.append(record)
            return decompress(record)

    compress(wire, Recording())
    assert wire.frame() == (RESPONSE, b"OK")
    bodies = [os.urandom(100_000), BODY, b"small"]
    assert wire.mpub(topic, bodies) == (RESPONSE, b"OK")
    wire.subscribe(topic, "c", rdy=3)
    assert [wire.message()[3] for _ in bodies] == bodies
    assert sum(map(len, records)) > 100_000  # the random body went by, uncompressed
    assert all(_whole_chunks(record) for record in records), [len(r) for r in records]
