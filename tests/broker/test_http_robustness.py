"""The HTTP port answers what is not HTTP with 400 at once and drops clients that stall.

Raw sockets, so the bytes on the wire are what is checked: an NSQ client's handshake sent to
the HTTP port by mistake, a header that never ends, a connection left idle.
"""
from __future__ import annotations

import socket
import time

import pytest

from mr.broker.http_gate import verdict
from tests.support.broker import start_broker

HEADER_TIMEOUT_S = 0.5
IDLE_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def strict_broker(tmp_path_factory):
    server = start_broker(tmp_path_factory.mktemp("strict"),
                          "--http-header-timeout", f"{int(HEADER_TIMEOUT_S * 1000)}ms",
                          "--http-idle-timeout", f"{int(IDLE_TIMEOUT_S * 1000)}ms")
    yield server
    server.stop()


def _connect(broker) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", broker.http_port), timeout=10)
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    start, data = time.monotonic(), b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data, time.monotonic() - start
        data += chunk


@pytest.mark.parametrize("greeting", [
    b"  V2",  # an NSQ client's magic, alone
    b"  V2IDENTIFY\n\x00\x00\x00\x02{}",  # and its first command
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
    b"GET /ping\n\n",  # HTTP/0.9
])
def test_not_http_is_answered_400_at_once(broker, greeting):
    """The default broker (10 s header timeout): the answer comes long before that."""
    with _connect(broker) as sock:
        sock.sendall(greeting)
        reply, took = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n"), reply
    assert reply.endswith(b"\r\n\r\n400 Bad Request")
    assert took < 5


def test_a_header_that_never_ends_is_dropped(strict_broker):
    with _connect(strict_broker) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        reply, took = _read_until_closed(sock)
    assert reply == b"" and HEADER_TIMEOUT_S * 0.8 < took < 5


def test_a_silent_connection_is_dropped(strict_broker):
    with _connect(strict_broker) as sock:
        reply, took = _read_until_closed(sock)
    assert reply == b"" and HEADER_TIMEOUT_S * 0.8 < took < 5


def test_a_header_sent_in_pieces_in_time_is_served(strict_broker):
    with _connect(strict_broker) as sock:
        for piece in (b"GE", b"T /pi", b"ng HTTP/1.1\r\nHo", b"st: x\r\nConnection: close\r\n",
                      b"\r\n"):
            sock.sendall(piece)
            time.sleep(0.02)  # pieces, not a wait for a condition
        reply, _ = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"\r\n\r\nOK")


def test_an_idle_kept_alive_connection_is_closed(strict_broker):
    with _connect(strict_broker) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        reply, took = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"OK")
    assert IDLE_TIMEOUT_S * 0.8 < took < 10


def test_a_slow_body_is_dropped(strict_broker, topic):
    with _connect(strict_broker) as sock:
        sock.sendall(f"POST /pub?topic={topic} HTTP/1.1\r\nHost: x\r\n"
                     f"Content-Length: 100\r\n\r\nhalf".encode())
        reply, took = _read_until_closed(sock)
    assert reply == b"" and IDLE_TIMEOUT_S * 0.8 < took < 10


@pytest.mark.parametrize("head, expected", [
    (b"", None), (b"G", None), (b"GET /x HT", None), (b"GET /x HTTP/1.1\r\n", None),
    (b"\r\nGET /x HTTP/1.1\r\n\r\n", True), (b"GET /x HTTP/1.1\n\n", True),
    (b" GET", False), (b"  V2", False), (b"GET /x FTP", False), (b"GET /x\r\n", False),
    (b"G\x00", False),
])
def test_verdict(head, expected):
    assert verdict(head) is expected


def test_pynsq_pointed_at_the_http_port_is_turned_away_at_once(broker, topic):
    """An NSQ client given the HTTP port by mistake: the 400 and the close reach pynsq at once
    (nsqd's behaviour), so it reports a broken connection instead of waiting on a timeout."""
    from tests.broker.nsq_client import NsqLoop
    loop = NsqLoop()
    try:
        reader = loop.reader(broker, topic, "c", lambda m: True)
        reader.nsqd_tcp_addresses = [broker.http_address]
        closed: list[tuple[float, int]] = []
        on_close = reader._on_connection_close  # pynsq's own, which schedules a reconnect

        def recorded(conn, **kwargs) -> None:
            closed.append((time.monotonic(), conn.port))
            on_close(conn, **kwargs)

        reader._on_connection_close = recorded
        start = time.monotonic()
        loop.run_until(lambda: closed, timeout=10, message="pynsq's connection closed")
        assert closed[0][0] - start < 5 and closed[0][1] == broker.http_port
        assert broker.http_connections() == 0
    finally:
        loop.close()
