"""TLS on the broker's TCP protocol: upgrade after IDENTIFY as nsqd does, --tls-required,
client certificates, and pynsq (what workers use) consuming over TLS."""
from __future__ import annotations

import asyncio
import json
import ssl
import threading
import urllib.request

import pytest

from mr.broker.protocol import FRAME_ERROR, FRAME_RESPONSE
from mr.cluster import wait_for
from tests.broker.wire import Wire
from tests.support import tls
from tests.support.broker import start_broker


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return tls.make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_broker(certs, tmp_path_factory):
    server = start_broker(tmp_path_factory.mktemp("tls"), "--tls-cert", str(certs.server.cert),
                          "--tls-key", str(certs.server.key), "--tls-required")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mutual_broker(certs, tmp_path_factory):
    server = start_broker(tmp_path_factory.mktemp("mtls"), "--tls-cert", str(certs.server.cert),
                          "--tls-key", str(certs.server.key), "--tls-root-ca-file",
                          str(certs.ca), "--tls-client-auth-policy", "require-verify")
    yield server
    server.stop()


def upgraded(broker, context: ssl.SSLContext) -> Wire:
    """A raw connection taken through IDENTIFY tls_v1 and the handshake; OK arrives over TLS."""
    wire = Wire(broker)
    frame_type, data = wire.identify(feature_negotiation=True, tls_v1=True)
    assert frame_type == FRAME_RESPONSE and json.loads(data)["tls_v1"] is True
    wire.sock = context.wrap_socket(wire.sock, server_hostname="127.0.0.1")
    assert wire.frame() == (FRAME_RESPONSE, b"OK")
    return wire


def server_only(certs) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certs.ca))


def test_publish_and_consume_over_tls(tls_broker, certs, topic):
    wire = upgraded(tls_broker, server_only(certs))
    assert wire.call(f"PUB {topic}".encode(), b"secret") == (FRAME_RESPONSE, b"OK")
    wire.subscribe(topic, "c")
    assert wire.message()[3] == b"secret"
    with urllib.request.urlopen(f"http://{tls_broker.http_address}/stats?format=json"
                                f"&topic={topic}", timeout=5) as reply:
        client = json.load(reply)["topics"][0]["channels"][0]["clients"][0]
    assert client["tls"] is True and client["tls_version"].startswith("TLSv1.")
    assert client["tls_cipher_suite"]


@pytest.mark.parametrize("command, body", [(b"PUB t", b"x"), (b"SUB t c", None),
                                           (b"MPUB t", b"\0\0\0\0"), (b"DPUB t 10", b"x")])
def test_tls_required_refuses_plain_publish_and_subscribe(tls_broker, command, body):
    wire = Wire(tls_broker)
    name = command.split()[0].decode()
    assert wire.call(command, body) == (
        FRAME_ERROR, f"E_INVALID cannot {name} in current state (TLS required)".encode())
    with pytest.raises(ConnectionError):
        wire.frame()


def test_a_client_that_does_not_ask_for_tls_stays_plain_where_allowed(mutual_broker, topic):
    # --tls-client-auth-policy implies --tls-required, as in nsqd
    wire = Wire(mutual_broker)
    frame_type, data = wire.identify(feature_negotiation=True)
    assert json.loads(data)["tls_v1"] is False
    assert wire.call(f"PUB {topic}".encode(), b"x")[0] == FRAME_ERROR


def test_client_certificate_required_and_checked(mutual_broker, certs, topic):
    with_cert = server_only(certs)
    with_cert.load_cert_chain(str(certs.client.cert), str(certs.client.key))
    wire = upgraded(mutual_broker, with_cert)
    assert wire.call(f"PUB {topic}".encode(), b"x") == (FRAME_RESPONSE, b"OK")
    for client in (None, certs.stranger):
        context = server_only(certs)
        if client is not None:
            context.load_cert_chain(str(client.cert), str(client.key))
        wire = Wire(mutual_broker)
        wire.identify(feature_negotiation=True, tls_v1=True)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            wire.sock = context.wrap_socket(wire.sock, server_hostname="127.0.0.1")
            wire.frame()  # TLS 1.3 reports a refused certificate at the first read


def test_client_that_distrusts_the_server_cannot_connect(tls_broker, certs, topic):
    wire = Wire(tls_broker)
    wire.identify(feature_negotiation=True, tls_v1=True)
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context(cafile=str(certs.other_ca)).wrap_socket(
            wire.sock, server_hostname="127.0.0.1")
    # the broker dropped that connection and still serves others
    wire = upgraded(tls_broker, server_only(certs))
    assert wire.call(f"PUB {topic}".encode(), b"x") == (FRAME_RESPONSE, b"OK")


def test_pynsq_reader_consumes_over_tls_as_workers_do(tls_broker, certs, topic):
    import nsq
    import tornado.ioloop

    from mr.config import Settings
    from mr.worker.nsqd_link import connection_options
    options = connection_options(Settings(nsqd_tls=True, nsqd_tls_ca_cert=str(certs.ca)))
    wire = upgraded(tls_broker, server_only(certs))
    for n in range(5):
        assert wire.call(f"PUB {topic}".encode(), b"m%d" % n) == (FRAME_RESPONSE, b"OK")
    got, loop_box = [], []

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        loop_box.append(tornado.ioloop.IOLoop.current())

        def handle(message):
            got.append(message.body)
            return True
        nsq.Reader(topic=topic, channel="workers", message_handler=handle,
                   nsqd_tcp_addresses=[tls_broker.tcp_address], max_in_flight=10, **options)
        loop_box[0].start()

    threading.Thread(target=run, daemon=True).start()
    try:
        wait_for(lambda: len(got) == 5, timeout=20, message="5 messages over TLS")
    finally:
        wait_for(lambda: loop_box, timeout=5)
        loop_box[0].add_callback(loop_box[0].stop)
    assert sorted(got) == [b"m%d" % n for n in range(5)]
