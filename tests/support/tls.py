"""Throwaway certificates (a CA, server and client certificates for 127.0.0.1) and a real etcd
that requires TLS client certificates, for the security tests."""
from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mr import cluster


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server: Pair
    client: Pair
    other_ca: Path     # a CA that signed nothing here: verifying with it must fail
    stranger: Pair     # a client certificate from that other CA


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(directory: Path, stem: str, cert: x509.Certificate, key) -> Pair:
    pair = Pair(directory / f"{stem}.pem", directory / f"{stem}-key.pem")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return pair


def _issue(subject: str, issuer: x509.Name, issuer_key, key, ca: bool = False,
           usage=None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]),
            critical=False).add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_certificates(directory: Path) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    server_usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    client_usage = [ExtendedKeyUsageOID.CLIENT_AUTH]
    pairs = {}
    for ca_stem in ("ca", "other-ca"):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _issue(f"mr test {ca_stem}", _name(f"mr test {ca_stem}"), ca_key, ca_key,
                         ca=True)
        pairs[ca_stem] = _write(directory, ca_stem, ca_cert, ca_key)
        for stem, usage in (("server", server_usage), ("client", client_usage)):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _issue(f"mr {stem}", ca_cert.subject, ca_key, key, usage=usage)
            pairs[f"{ca_stem}/{stem}"] = _write(directory, f"{ca_stem}-{stem}", cert, key)
    return Certificates(ca=pairs["ca"].cert, server=pairs["ca/server"],
                        client=pairs["ca/client"], other_ca=pairs["other-ca"].cert,
                        stranger=pairs["other-ca/client"])


def client_context(certs: Certificates) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs.ca))
    context.load_cert_chain(str(certs.client.cert), str(certs.client.key))
    return context


def secure_etcd(data_dir: Path, log_path: Path, certs: Certificates,
                *extra: str) -> cluster.Service:
    """etcd serving clients over TLS only, and only to certificates signed by certs.ca."""
    port, peer_port = cluster.free_port(), cluster.free_port()
    url, peer = f"https://127.0.0.1:{port}", f"http://127.0.0.1:{peer_port}"
    context = client_context(certs)

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1, context=context) as reply:
                return reply.status == 200
        except OSError:
            return False

    return cluster.Service("etcd-tls", [
        shutil.which("etcd") or "/usr/bin/etcd", "--name", "mr", "--data-dir", str(data_dir),
        "--listen-client-urls", url, "--advertise-client-urls", url,
        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", f"mr={peer}", "--log-level", "error",
        "--client-cert-auth", "--trusted-ca-file", str(certs.ca),
        "--cert-file", str(certs.server.cert), "--key-file", str(certs.server.key), *extra],
        log_path, healthy, address=f"127.0.0.1:{port}")
