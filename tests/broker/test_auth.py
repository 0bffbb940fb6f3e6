"""AUTH against an auth server, as nsqd's --auth-http-address: the server here is a small
HTTP server in the test, answering per secret, and it records every question it is asked."""
from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mr.cluster import free_port
from tests.broker.nsq_client import NsqLoop, channel_stats
from tests.broker.wire import Wire
from tests.support.broker import start_broker

RESPONSE, ERROR = 0, 1
CLIENT_COMMON_NAME = "mr client"  # tests/support/tls.py's client certificate
PUBLISHER = {"ttl": 3600, "identity": "pub-bot", "identity_url": "https://id.example/pub",
             "authorizations": [{"topic": "^open_", "channels": [".*"],
                                 "permissions": ["publish"]}]}
CONSUMER = {"ttl": 3600, "identity": "worker",
            "authorizations": [{"topic": "^open_", "channels": ["^work", "^audit$"],
                                "permissions": ["subscribe", "publish"]}]}


class AuthServer:
    """Answers GET /auth from `answers` (secret -> JSON body, or an int: that status)."""

    def __init__(self) -> None:
        self.answers: dict[str, dict | int] = {"pub": PUBLISHER, "sub": CONSUMER,
                                               "nobody": {"ttl": 60, "authorizations": []},
                                               "broken": 500, "bad-ttl": {"ttl": 0}}
        self.queries: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                owner.queries.append({"path": url.path, **query})
                answer = owner.answers.get(query.get("secret"), 403)
                body = json.dumps(answer if isinstance(answer, dict) else {}).encode()
                self.send_response(200 if isinstance(answer, dict) else answer)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.address = f"127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def auth_server():
    server = AuthServer()
    yield server
    server.http.shutdown()


@pytest.fixture(scope="module")
def auth_broker(auth_server, tmp_path_factory):
    server = start_broker(tmp_path_factory.mktemp("auth"), "--auth-http-address",
                          auth_server.address)
    yield server
    server.stop()


@pytest.fixture
def open_topic(topic):
    return f"open_{topic}"


def _authed(broker, secret: str) -> tuple[Wire, dict]:
    wire = Wire(broker)
    frame_type, data = wire.identify(feature_negotiation=True)
    assert frame_type == RESPONSE and json.loads(data)["auth_required"] is True
    frame_type, data = wire.call(b"AUTH", secret.encode())
    assert frame_type == RESPONSE, data
    return wire, json.loads(data)


def _fatal(wire: Wire, expected: bytes, line: bytes, body: bytes | None = None) -> None:
    assert wire.call(line, body) == (ERROR, expected)
    assert wire.is_closed()


def test_auth_answers_identity_and_asks_as_nsqd(auth_broker, auth_server):
    before = len(auth_server.queries)
    _, reply = _authed(auth_broker, "pub")
    assert reply == {"identity": "pub-bot", "identity_url": "https://id.example/pub",
                     "permission_count": 1}
    assert auth_server.queries[before:] == [{"path": "/auth", "remote_ip": "127.0.0.1",
                                             "tls": "false", "secret": "pub",
                                             "common_name": ""}]


def test_publish_before_auth_is_refused(auth_broker, open_topic):
    _fatal(Wire(auth_broker), b"E_AUTH_FIRST AUTH required before PUB",
           f"PUB {open_topic}".encode(), b"x")
    _fatal(Wire(auth_broker), b"E_AUTH_FIRST AUTH required before SUB",
           f"SUB {open_topic} c".encode())


@pytest.mark.parametrize("secret, expected", [
    ("unknown", b"E_AUTH_FAILED AUTH failed"),  # 403 from the auth server
    ("broken", b"E_AUTH_FAILED AUTH failed"),   # 500
    ("bad-ttl", b"E_AUTH_FAILED AUTH failed"),  # an answer nsqd refuses
    ("nobody", b"E_UNAUTHORIZED AUTH no authorizations found"),
])
def test_auth_refused(auth_broker, secret, expected):
    _fatal(Wire(auth_broker), expected, b"AUTH", secret.encode())


def test_auth_twice_is_invalid(auth_broker):
    wire, _ = _authed(auth_broker, "pub")
    _fatal(wire, b"E_INVALID AUTH already set", b"AUTH", b"pub")


def test_permissions_by_topic_channel_and_action(auth_broker, open_topic):
    wire, _ = _authed(auth_broker, "pub")
    assert wire.call(f"PUB {open_topic}".encode(), b"m") == (RESPONSE, b"OK")
    _fatal(wire, b'E_UNAUTHORIZED AUTH failed for MPUB on "closed" ""', b"MPUB closed",
           b"\x00\x00\x00\x01\x00\x00\x00\x01m")
    wire, _ = _authed(auth_broker, "pub")
    _fatal(wire, f'E_UNAUTHORIZED AUTH failed for SUB on "{open_topic}" "work"'.encode(),
           f"SUB {open_topic} work".encode())
    wire, _ = _authed(auth_broker, "sub")
    _fatal(wire, f'E_UNAUTHORIZED AUTH failed for SUB on "{open_topic}" "audit2"'.encode(),
           f"SUB {open_topic} audit2".encode())
    wire, _ = _authed(auth_broker, "sub")
    wire.subscribe(open_topic, "workers")
    assert wire.message()[3] == b"m"


def test_auth_is_asked_again_once_its_ttl_has_passed(auth_broker, auth_server, open_topic):
    auth_server.answers["short"] = {**PUBLISHER, "ttl": 1}
    wire, _ = _authed(auth_broker, "short")
    asked = len(auth_server.queries)
    auth_server.answers["short"] = {**PUBLISHER, "ttl": 1, "authorizations": [
        {"topic": "^elsewhere$", "channels": [".*"], "permissions": ["publish"]}]}
    deadline = time.monotonic() + 10
    while True:  # allowed while the first answer holds, refused once it has been asked again
        frame_type, data = wire.call(f"PUB {open_topic}".encode(), b"m")
        if frame_type == ERROR:
            break
        assert time.monotonic() < deadline, "the auth server was not asked again"
        time.sleep(0.05)
    assert data == f'E_UNAUTHORIZED AUTH failed for PUB on "{open_topic}" ""'.encode()
    assert [q["secret"] for q in auth_server.queries[asked:]] == ["short"]


def test_auth_server_down_fails_auth(auth_server, tmp_path):
    broker = start_broker(tmp_path, "--auth-http-address", f"127.0.0.1:{free_port()}",
                          "--http-client-connect-timeout", "500ms")
    try:
        _fatal(Wire(broker), b"E_AUTH_FAILED AUTH failed", b"AUTH", b"pub")
        assert "failed to auth against" in broker.log()  # the reason is logged, not sent
    finally:
        broker.stop()


def test_pynsq_with_auth_secret(auth_broker, open_topic):
    loop = NsqLoop()
    try:
        writer = loop.writer(auth_broker, auth_secret="pub")
        loop.publish(writer, "pub", open_topic, b"hello")
        received = []
        loop.reader(auth_broker, open_topic, "work", lambda m: received.append(m.body) or True,
                    auth_secret="sub")
        loop.run_until(lambda: received, message="message for an authorized reader")
        assert received == [b"hello"]
        client = channel_stats(auth_broker, open_topic, "work")["clients"][0]
        assert client["authed"] is True and client["auth_identity"] == "worker"
    finally:
        loop.close()


def test_pynsq_refused_by_the_auth_server(auth_broker, open_topic):
    """pynsq's Reader with a secret that may only publish: its SUB is refused as nsqd refuses
    it, its connection closed, and it gets nothing; one the auth server does not know fails
    AUTH itself."""
    wire, _ = _authed(auth_broker, "pub")
    assert wire.call(f"PUB {open_topic}".encode(), b"kept") == (RESPONSE, b"OK")
    loop = NsqLoop()
    try:
        errors: list[str] = []
        received = []
        for secret, channel in (("pub", "work"), ("unknown", "work2")):
            reader = loop.reader(auth_broker, open_topic, channel,
                                 lambda m: received.append(m.body) or True, auth_secret=secret)
            # where pynsq reports a connection's error frames (it only logs them)
            reader._on_connection_error = lambda conn, error, **_: errors.append(str(error))
        loop.run_until(lambda: len(errors) >= 2, message="both readers refused")
        assert any(f'E_UNAUTHORIZED AUTH failed for SUB on "{open_topic}" "work"' in e
                   for e in errors), errors
        assert any("E_AUTH_FAILED AUTH failed" in e for e in errors), errors
        assert received == []
    finally:
        loop.close()


def test_commands_after_auth_wait_for_its_answer(auth_broker, open_topic):
    """AUTH and PUB sent together: PUB is read only once the auth server has answered."""
    wire = Wire(auth_broker)
    wire.send(b"AUTH", b"pub")
    wire.send(f"PUB {open_topic}".encode(), b"pipelined")
    assert wire.frame()[0] == RESPONSE  # AUTH's identity
    assert wire.frame() == (RESPONSE, b"OK")


def test_auth_over_tls_sends_tls_and_the_client_certificate_name(auth_server,
                                                                   tmp_path_factory):
    from tests.broker.test_tls import server_only, upgraded
    from tests.support import tls
    certs = tls.make_certificates(tmp_path_factory.mktemp("certs"))
    broker = start_broker(tmp_path_factory.mktemp("tls-auth"), "--auth-http-address",
                          auth_server.address, "--tls-cert", str(certs.server.cert),
                          "--tls-key", str(certs.server.key), "--tls-root-ca-file",
                          str(certs.ca), "--tls-client-auth-policy", "require-verify")
    try:
        context = server_only(certs)
        context.load_cert_chain(str(certs.client.cert), str(certs.client.key))
        wire = upgraded(broker, context)
        before = len(auth_server.queries)
        assert wire.call(b"AUTH", b"pub")[0] == RESPONSE
        query = auth_server.queries[before]
        assert query["tls"] == "true" and query["common_name"] == CLIENT_COMMON_NAME
    finally:
        broker.stop()
