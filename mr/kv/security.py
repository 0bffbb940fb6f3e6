"""How a process proves itself to etcd: TLS (CA, client certificate) and user/password.

Read from MR_ETCD_CA_CERT, MR_ETCD_CERT, MR_ETCD_KEY, MR_ETCD_USER and MR_ETCD_PASSWORD.
TLS is on when a CA or a client certificate is given; the password is never logged.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import grpc
from pyetcd import etcdrpc

from mr import config
from mr.kv.errors import EtcdSecurityError, EtcdUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EtcdSecurity:
    user: str = ""
    password: str = field(default="", repr=False)
    ca_cert: str = ""
    cert: str = ""
    key: str = ""

    @classmethod
    def from_settings(cls, settings: config.Settings) -> EtcdSecurity:
        return cls(settings.etcd_user, settings.etcd_password, settings.etcd_ca_cert,
                   settings.etcd_cert, settings.etcd_key)

    @classmethod
    def from_env(cls) -> EtcdSecurity:
        return cls.from_settings(config.load())

    @property
    def tls(self) -> bool:
        return bool(self.ca_cert or self.cert or self.key)

    def check(self) -> None:
        """Raise ValueError naming the variable to fix when the settings cannot work."""
        if bool(self.cert) != bool(self.key):
            raise ValueError("MR_ETCD_CERT and MR_ETCD_KEY go together: set both or neither")
        if self.password and not self.user:
            raise ValueError("MR_ETCD_PASSWORD is set but MR_ETCD_USER is not")

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """TLS credentials from the PEM files (the CA defaults to the system's roots)."""
        self.check()
        return grpc.ssl_channel_credentials(
            root_certificates=_read("MR_ETCD_CA_CERT", self.ca_cert),
            private_key=_read("MR_ETCD_KEY", self.key),
            certificate_chain=_read("MR_ETCD_CERT", self.cert))


def _read(variable: str, path: str) -> bytes | None:
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ValueError(f"{variable}={path}: cannot read it ({exc.strerror})") from None
    if b"-----BEGIN" not in data:
        raise ValueError(f"{variable}={path}: not a PEM file")
    return data


class Authenticator:
    """Holds one etcd auth token for a client and puts it on every call (user/password only).

    etcd's simple tokens expire (--auth-token-ttl, 5 minutes idle by default): a call refused
    as unauthenticated forgets the token, and the caller retries with a fresh one.
    """

    def __init__(self, stub, security: EtcdSecurity, hosts: list[str]):
        self._stub = stub
        self._security = security
        self._where = ",".join(hosts)
        self._token: str | None = None   # "" once etcd said auth is not enabled
        self._lock = threading.Lock()

    def metadata(self, timeout: float) -> tuple | None:
        """The token metadata for one call, authenticating first when needed (may raise)."""
        if not self._security.user:
            return None
        with self._lock:
            if self._token is None:
                self._token = self._authenticate(timeout)
            token = self._token
        return (("token", token),) if token else None

    def stream_metadata(self) -> tuple | None:
        """metadata() for a stream (a watch): failures become EtcdUnavailable/SecurityError."""
        try:
            return self.metadata(10.0)
        except grpc.RpcError as exc:
            raise self.refusal(exc) or EtcdUnavailable(
                f"etcd at {self._where} did not answer ({exc.code().name})") from None

    def _authenticate(self, timeout: float) -> str:
        request = etcdrpc.AuthenticateRequest(name=self._security.user,
                                              password=self._security.password)
        try:
            return self._stub.Authenticate(request, timeout=max(timeout, 0.01),
                                           wait_for_ready=True).token
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "not enabled" in (
                    exc.details() or ""):
                log.warning("MR_ETCD_USER is set but etcd at %s has authentication off; "
                            "calling without a token", self._where)
                return ""
            raise

    def expired(self, exc: grpc.RpcError) -> bool:
        """True (and the token forgotten) when `exc` says the token is stale or missing."""
        details = exc.details() or ""
        stale = self._security.user and (
            exc.code() == grpc.StatusCode.UNAUTHENTICATED
            or (exc.code() == grpc.StatusCode.INVALID_ARGUMENT
                and "user name is empty" in details))
        if stale:
            with self._lock:
                self._token = None
        return bool(stale)

    def refusal(self, exc: grpc.RpcError) -> EtcdSecurityError | None:
        """An EtcdSecurityError when `exc` is etcd refusing who we are; None otherwise."""
        code, details = exc.code(), (exc.details() or "").replace("etcdserver: ", "")
        user = self._security.user
        if code == grpc.StatusCode.INVALID_ARGUMENT and "authentication failed" in details:
            return EtcdSecurityError(f"etcd at {self._where} refused user {user!r}: {details}; "
                                     f"check MR_ETCD_USER and MR_ETCD_PASSWORD")
        if code == grpc.StatusCode.INVALID_ARGUMENT and "user name is empty" in details:
            return EtcdSecurityError(f"etcd at {self._where} requires authentication; set "
                                     f"MR_ETCD_USER and MR_ETCD_PASSWORD")
        if code == grpc.StatusCode.PERMISSION_DENIED and not user:
            return EtcdSecurityError(f"etcd at {self._where} denied access without a user "
                                     f"({details}); set MR_ETCD_USER and MR_ETCD_PASSWORD (with "
                                     f"client certificates etcd takes the certificate's common "
                                     f"name as the user)")
        if code == grpc.StatusCode.PERMISSION_DENIED:
            return EtcdSecurityError(f"etcd at {self._where} denied user {user!r}: {details}; "
                                     f"grant its role read-write on the /mr/ prefix")
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return EtcdSecurityError(f"etcd at {self._where} did not accept our auth token: "
                                     f"{details}")
        return None

    def watch_refusal(self, reason: str) -> EtcdUnavailable:
        """Why etcd cancelled a watch; a stale token is forgotten, so the re-watch renews it."""
        if "invalid auth token" in reason:
            with self._lock:
                self._token = None
        if "permission denied" in reason:
            return EtcdSecurityError(f"etcd at {self._where} denied a watch to user "
                                     f"{self._security.user!r}: {reason}")
        return EtcdUnavailable(f"etcd cancelled the watch: {reason}")
