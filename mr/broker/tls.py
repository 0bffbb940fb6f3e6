"""TLS on the broker's TCP protocol, the way nsqd does it: plain until IDENTIFY, then upgraded.

A client that asks for `tls_v1` in IDENTIFY (with feature negotiation) from a broker started
with --tls-cert and --tls-key gets `"tls_v1": true` in the IDENTIFY response; both sides then
run the TLS handshake on the same connection and the broker sends OK over TLS. With
--tls-required (or a --tls-client-auth-policy), SUB, PUB, MPUB and DPUB on a connection that is
not TLS yet are a fatal E_INVALID, as in nsqd. --tls-client-auth-policy=require-verify asks for
a client certificate signed by --tls-root-ca-file. The HTTP API stays plain (nsqd's separate
--https-address is not built): bind it to a trusted interface.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Protocol, cast

from mr.broker.protocol import FatalClientError

log = logging.getLogger("mr.broker")

GATED_COMMANDS = (b"SUB", b"PUB", b"MPUB", b"DPUB")
REQUIRED_VALUES = ("false", "true", "tcp-https")
MIN_VERSIONS = {"tls1.2": ssl.TLSVersion.TLSv1_2, "tls1.3": ssl.TLSVersion.TLSv1_3}
HANDSHAKE_TIMEOUT_S = 10.0


class TlsOptions(Protocol):
    """The TLS flags of the broker's options (mr.broker.options builds on this module)."""

    tls_cert: str
    tls_key: str
    tls_root_ca_file: str
    tls_client_auth_policy: str
    tls_required: str
    tls_min_version: str


class Upgradable(Protocol):
    """A TCP connection that can be switched to TLS (the TCP side's client connection)."""

    transport: asyncio.Transport | None
    remote_address: str

    def connection_lost(self, exc: Exception | None) -> None: ...

    def tls_established(self, transport: asyncio.Transport) -> None: ...


def add_arguments(add, parser, defaults: TlsOptions) -> None:
    add(parser, "tls-cert", default=defaults.tls_cert, help="path to certificate file (PEM)")
    add(parser, "tls-key", default=defaults.tls_key, help="path to private key file (PEM)")
    add(parser, "tls-root-ca-file", default=defaults.tls_root_ca_file,
        help="path to certificate authority file that signs client certificates")
    add(parser, "tls-client-auth-policy", default=defaults.tls_client_auth_policy,
        choices=["", "require-verify"],
        help="client certificate auth policy ('require-verify'; implies --tls-required)")
    add(parser, "tls-required", default=defaults.tls_required, nargs="?", const="true",
        choices=REQUIRED_VALUES,
        help="require TLS for client connections (true, false, tcp-https: TCP only)")
    add(parser, "tls-min-version", default=defaults.tls_min_version,
        choices=sorted(MIN_VERSIONS), help="minimum TLS version accepted")


def problems(opts: TlsOptions) -> list[str]:
    """What is wrong with the TLS flags (nsqd's rules), including unreadable files."""
    if opts.tls_client_auth_policy and opts.tls_required == "false":
        opts.tls_required = "true"
    if bool(opts.tls_cert) != bool(opts.tls_key):
        return ["--tls-cert and --tls-key go together"]
    if not opts.tls_cert and opts.tls_required != "false":
        return ["cannot require TLS client connections without TLS key and cert"]
    if opts.tls_client_auth_policy and not opts.tls_root_ca_file:
        return ["--tls-client-auth-policy=require-verify needs --tls-root-ca-file"]
    try:
        server_context(opts)
    except (OSError, ssl.SSLError) as exc:
        return [f"failed to build TLS config - {exc}"]
    return []


def server_context(opts: TlsOptions) -> ssl.SSLContext | None:
    """The broker's TLS context, or None when TLS is not configured."""
    if not opts.tls_cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MIN_VERSIONS[opts.tls_min_version]
    context.load_cert_chain(opts.tls_cert, opts.tls_key)
    if opts.tls_root_ca_file:
        context.load_verify_locations(opts.tls_root_ca_file)
    if opts.tls_client_auth_policy == "require-verify":
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def refusal(command: bytes) -> FatalClientError:
    """nsqd's enforceTLSPolicy: with TLS required, GATED_COMMANDS wait for the upgrade."""
    return FatalClientError("E_INVALID",
                            f"cannot {command.decode(errors='replace')} in current state "
                            f"(TLS required)")


async def upgrade(conn: Upgradable, context: ssl.SSLContext) -> None:
    """Run the server side of the handshake on the client's connection, then send OK."""
    loop = asyncio.get_running_loop()
    plain = conn.transport
    if plain is None:
        return  # never connected
    try:
        # the TCP side's connection is an asyncio.Protocol, as start_tls wants
        transport = await loop.start_tls(plain, cast(asyncio.BaseProtocol, conn), context,
                                         server_side=True,
                                         ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
        if transport is None:
            raise ConnectionError("the connection closed during the TLS handshake")
    except (TimeoutError, OSError, ssl.SSLError, ConnectionError) as exc:
        log.error("[%s] TLS handshake failed - %s", conn.remote_address, exc)
        plain.abort()
        conn.connection_lost(exc)
        return
    log.info("PROTOCOL(V2): [%s] upgraded connection to TLS", conn.remote_address)
    conn.tls_established(transport)


def describe(transport) -> dict:
    """The TLS fields of nsqd's client stats for a connection."""
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return {"tls": False, "tls_cipher_suite": "", "tls_version": ""}
    return {"tls": True, "tls_cipher_suite": ssl_object.cipher()[0],
            "tls_version": ssl_object.version()}


def common_name(transport) -> str:
    """The common name of the client's certificate, if it presented one over TLS."""
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return ""
    for rdn in (ssl_object.getpeercert() or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return ""
