"""How a worker's pynsq connections to nsqd are made and kept: TLS, and quick reconnection.

TLS (MR_NSQD_TLS=1): pynsq asks for `tls_v1` in IDENTIFY and upgrades the connection when
nsqd (or mr_broker --tls-cert) agrees; the certificate is verified against MR_NSQD_TLS_CA_CERT
(or the system's CAs) including its host name, and MR_NSQD_TLS_CERT/KEY are presented when
the broker asks for a client certificate.

Reconnection: given nsqd addresses directly (no lookupd), pynsq's Reader retries a lost
connection only after a fixed 15 s and at most once per 10 s, so after a broker restart a
worker would sit idle that long. Reconnector retries each lost address after 0.5 s, doubling
up to 8 s while the broker stays down, and starts over once connected.
"""
from __future__ import annotations

import logging
import ssl
import time

import tornado.ioloop
from tornado.iostream import StreamClosedError

from mr.config import Settings

log = logging.getLogger(__name__)

FIRST_DELAY_S, MAX_DELAY_S, CHECK_EVERY_MS = 0.5, 8.0, 250


def connection_options(settings: Settings) -> dict:
    """Extra pynsq connection arguments from the MR_NSQD_TLS* settings (empty without TLS)."""
    if not settings.nsqd_tls:
        if settings.nsqd_tls_cert or settings.nsqd_tls_ca_cert:
            log.warning("MR_NSQD_TLS_* files are set but MR_NSQD_TLS is not: connecting in "
                        "plain text")
        return {}
    if bool(settings.nsqd_tls_cert) != bool(settings.nsqd_tls_key):
        raise ValueError("MR_NSQD_TLS_CERT and MR_NSQD_TLS_KEY go together: set both or "
                         "neither")
    ca_certs = (settings.nsqd_tls_ca_cert or ssl.get_default_verify_paths().cafile
                or ssl.get_default_verify_paths().openssl_cafile)
    # PROTOCOL_TLS_CLIENT verifies the chain and the host name
    options: dict[str, object] = {"ssl_version": ssl.PROTOCOL_TLS_CLIENT, "ca_certs": ca_certs}
    if settings.nsqd_tls_cert:
        options.update(certfile=settings.nsqd_tls_cert, keyfile=settings.nsqd_tls_key)
    for variable, path in (("MR_NSQD_TLS_CA_CERT", ca_certs),
                           ("MR_NSQD_TLS_CERT", settings.nsqd_tls_cert),
                           ("MR_NSQD_TLS_KEY", settings.nsqd_tls_key)):
        if path:
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise ValueError(f"{variable}={path}: cannot read it ({exc.strerror})") from None
    return {"tls_v1": True, "tls_options": options}


class _QuietConnectFailure(logging.Filter):
    """pynsq lets a refused connection escape as a tornado callback traceback; Reconnector
    reports the same fact in one line, so that traceback is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, StreamClosedError) and "_connect_callback" in
                    record.getMessage())


class Reconnector:
    """Reconnects pynsq Readers to their nsqd addresses soon after a connection is lost."""

    def __init__(self, readers: list, addresses: list[str]):
        self.readers = readers
        self.addresses = [(host, int(port)) for host, port in
                          (address.rsplit(":", 1) for address in addresses)]
        self._due: dict[tuple[int, str], tuple[float, float]] = {}  # (next try, delay)
        self._connected: set[tuple[int, str]] = set()
        self._callback: tornado.ioloop.PeriodicCallback | None = None
        tornado_log = logging.getLogger("tornado.application")
        if not any(isinstance(f, _QuietConnectFailure) for f in tornado_log.filters):
            tornado_log.addFilter(_QuietConnectFailure())

    def start(self) -> Reconnector:
        self._callback = tornado.ioloop.PeriodicCallback(self._check, CHECK_EVERY_MS)
        self._callback.start()
        return self

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()

    def _check(self) -> None:
        now = time.monotonic()
        for index, reader in enumerate(self.readers):
            for host, port in self.addresses:
                conn_id = f"{host}:{port}"
                slot = (index, conn_id)
                if conn_id in reader.conns:
                    if slot not in self._connected:
                        log.info("connected to nsqd at %s (%s)", conn_id, reader.name)
                        self._connected.add(slot)
                    self._due.pop(slot, None)
                    continue
                if slot not in self._due:
                    log.warning("%s nsqd at %s (%s); retrying every %g-%gs until it answers",
                                "lost the connection to" if slot in self._connected
                                else "cannot reach", conn_id, reader.name, FIRST_DELAY_S,
                                MAX_DELAY_S)
                    self._connected.discard(slot)
                due, delay = self._due.get(slot, (now + FIRST_DELAY_S, FIRST_DELAY_S))
                if now >= due:
                    log.debug("reconnecting %s to nsqd %s", reader.name, conn_id)
                    reader.connection_attempts.pop(conn_id, None)  # lift pynsq's 10 s throttle
                    reader.connect_to_nsqd(host, port)
                    delay = min(delay * 2, MAX_DELAY_S)
                    due = now + delay
                self._due[slot] = (due, delay)
