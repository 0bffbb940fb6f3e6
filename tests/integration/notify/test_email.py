"""Email notifications received by a real SMTP server started by the test: plain, STARTTLS
with login, SSL with login; and the failures (bad password, untrusted certificate, no server)
that must be logged and never raised."""
from __future__ import annotations

import logging

import pytest

from mr.cluster import free_port
from mr.config import load
from mr.notify import Notifier
from tests.integration.notify.smtp_server import SmtpServer, self_signed

# aiosmtpd warns about AUTH without STARTTLS, which is what SSL-from-the-first-byte needs
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

TRACEBACK = ('Traceback (most recent call last):\n  File "wc.py", line 3, in map\n'
             'ValueError: bad line')


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("smtp"))


@pytest.fixture
def servers():
    started = []

    def start(**options) -> SmtpServer:
        started.append(SmtpServer(**options))
        return started[-1]
    yield start
    for server in started:
        server.stop()


def notifier_for(server: SmtpServer, **env: str) -> Notifier:
    return Notifier.from_settings(load({
        "MR_SMTP_HOST": "127.0.0.1", "MR_SMTP_PORT": str(server.port),
        "MR_NOTIFY_EMAIL_TO": "ops@example.com, dev@example.com",
        "MR_NOTIFY_EMAIL_FROM": "mr@example.com", **env}))


def send_failure(notifier: Notifier) -> None:
    notifier.notify("handler_exception", "handler wc_map raised in request r1",
                    {"request_id": "r1", "invocation_id": "0.4", "traceback": TRACEBACK,
                     "attempts": 3})
    assert notifier.flush(30)


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "mr.notify" and r.levelno == logging.WARNING]


def test_plain_email_to_several_recipients(servers):
    server = servers()
    send_failure(notifier_for(server))
    [mail] = server.inbox
    assert mail.sender == "mr@example.com"
    assert mail.recipients == ["ops@example.com", "dev@example.com"]
    assert mail.login is None and not mail.tls
    message = mail.message
    assert message["Subject"] == "[mr handler_exception] handler wc_map raised in request r1"
    assert message["To"] == "ops@example.com, dev@example.com"
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert body.startswith("handler wc_map raised in request r1\n\nevent: handler_exception\n")
    assert "\n  request_id: r1\n" in body and "\n  attempts: 3\n" in body
    assert ("\n  traceback:\n    Traceback (most recent call last):\n"
            '      File "wc.py", line 3, in map\n    ValueError: bad line\n') in body


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_tls_with_login(servers, cert, tls):
    server = servers(tls=tls, users={"mr": "s3cret"}, cert=cert)
    send_failure(notifier_for(server, MR_SMTP_TLS=tls, MR_SMTP_USER="mr",
                              MR_SMTP_PASSWORD="s3cret", MR_SMTP_CA_FILE=str(cert[0])))
    [mail] = server.inbox
    assert mail.login == "mr" and mail.tls


def test_wrong_password_is_logged_not_raised(servers, cert, caplog):
    server = servers(tls="starttls", users={"mr": "s3cret"}, cert=cert)
    send_failure(notifier_for(server, MR_SMTP_TLS="starttls", MR_SMTP_USER="mr",
                              MR_SMTP_PASSWORD="wrong", MR_SMTP_CA_FILE=str(cert[0])))
    assert server.inbox == []
    [warning] = warnings(caplog)
    assert "could not send handler_exception notification" in warning
    assert f"email to ops@example.com, dev@example.com via 127.0.0.1:{server.port}" in warning
    assert "535" in warning   # authentication failed


def test_untrusted_certificate_is_refused(servers, cert, caplog):
    server = servers(tls="starttls", cert=cert)
    send_failure(notifier_for(server, MR_SMTP_TLS="starttls"))   # system CAs only
    assert server.inbox == []
    [warning] = warnings(caplog)
    assert "CERTIFICATE_VERIFY_FAILED" in warning


def test_server_requiring_starttls_refuses_plain(servers, cert, caplog):
    server = servers(tls="starttls", cert=cert)
    send_failure(notifier_for(server))
    assert server.inbox == []
    [warning] = warnings(caplog)
    assert "STARTTLS" in warning


def test_no_smtp_server_is_logged_not_raised(caplog):
    port = free_port()
    notifier = Notifier.from_settings(load({
        "MR_SMTP_HOST": "127.0.0.1", "MR_SMTP_PORT": str(port),
        "MR_NOTIFY_EMAIL_TO": "ops@example.com"}))
    send_failure(notifier)
    [warning] = warnings(caplog)
    assert f"via 127.0.0.1:{port}: [Errno 111] Connection refused" in warning
