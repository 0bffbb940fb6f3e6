"""A real SMTP server for the email tests (aiosmtpd in a thread): plain, STARTTLS or SSL from
the first byte, with or without AUTH, keeping every message it accepts. Its certificate is
self-signed for 127.0.0.1 and made here, so the client must trust it explicitly."""
from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mr.cluster import free_port


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mr test SMTP")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]),
                critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: Message
    login: str | None     # who authenticated, None without AUTH
    tls: bool             # whether the session was encrypted


@dataclass
class SmtpServer:
    """tls: "none", "starttls" (required before MAIL) or "ssl"; users: login -> password
    (AUTH then required)."""
    tls: str = "none"
    users: dict[str, str] = field(default_factory=dict)
    cert: tuple[Path, Path] | None = None
    inbox: list[Received] = field(default_factory=list)
    port: int = 0

    def __post_init__(self):
        options = {}
        if self.tls != "none":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.cert)
            options["ssl_context" if self.tls == "ssl" else "tls_context"] = context
            options["require_starttls"] = self.tls == "starttls"
        if self.users:
            # aiosmtpd counts only STARTTLS as TLS for AUTH; with "ssl" the session is
            # encrypted from the first byte, so AUTH may be offered at once
            options.update(authenticator=self._authenticate, auth_required=True,
                           auth_require_tls=self.tls != "ssl")
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        login = auth_data.login.decode()
        ok = self.users.get(login) == auth_data.password.decode()
        # handled=False: aiosmtpd answers the failure itself (535)
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.inbox.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                   message_from_bytes(envelope.original_content),
                                   session.auth_data, encrypted(server, session)))
        return "250 OK"

    def stop(self) -> None:
        self.controller.stop()


def encrypted(server, session) -> bool:
    """aiosmtpd sets session.ssl after STARTTLS only; SSL from the start shows on the socket."""
    return session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
