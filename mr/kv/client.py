"""The one place that talks to etcd: a small facade over etcd's v3 gRPC API.

We use the generated stubs of `etcd-sdk-python` (import `pyetcd.etcdrpc`) directly rather than
its high-level client, because we need count-only and prefix ranges inside transactions, and
one retry policy for everything. Swapping the transport means rewriting this module only.

In gevent processes call `mr.kv.client.init_gevent()` after monkey-patching and before the
first client exists (grpc otherwise blocks the hub inside a watch).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from pyetcd import etcdrpc

from mr.kv.entry import Entry, entry_of, prefix_end
from mr.kv.errors import EtcdNoSpace, EtcdSecurityError, EtcdUnavailable
from mr.kv.hosts import grpc_target
from mr.kv.security import Authenticator, EtcdSecurity
from mr.kv.watch import Watch

log = logging.getLogger(__name__)

RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
MAX_TXN_OPS = 128  # etcd's default --max-txn-ops
# Read only for its revision header: a key under the prefix an etcd role grants to mr.
PROBE_KEY = "/mr/"


# Called with (method, seconds) after each etcd call that answered; mr.metrics sets it.
observer: Callable[[str, float], None] | None = None


def _method_name(method) -> str:
    """"Range", "Txn", ... from a grpc stub method (its full name is /etcdserverpb.KV/Range)."""
    full = getattr(method, "_method", b"")
    return (full.decode() if isinstance(full, bytes) else str(full)).rsplit("/", 1)[-1]


def init_gevent() -> None:
    """Make grpc cooperate with gevent; call once, after gevent.monkey.patch_all()."""
    import grpc.experimental.gevent as grpc_gevent
    grpc_gevent.init_gevent()


# --- operations and comparisons for transactions -----------------------------------------
# They are etcd's protobuf messages, of which pyetcd ships no types: these names tell a reader
# which a value is (to mypy they are Any).
Op = Any        # an etcdrpc.RequestOp: a put, range or delete a transaction does
Compare = Any   # an etcdrpc.Compare: a condition on one key that a transaction checks first

def op_put(key: str, value: bytes, prev_kv: bool = False, lease: int = 0) -> Op:
    return etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(
        key=key.encode(), value=value, prev_kv=prev_kv, lease=lease))


def _range_request(key: str, prefix: bool = False, count_only: bool = False,
                   keys_only: bool = False, limit: int = 0, revision: int = 0,
                   range_end: bytes | None = None):
    raw = key.encode()
    end = range_end if range_end is not None else (prefix_end(raw) if prefix else b"")
    return etcdrpc.RangeRequest(key=raw, range_end=end, count_only=count_only,
                                keys_only=keys_only, limit=limit, revision=revision)


def op_get(key: str, prefix: bool = False, count_only: bool = False, keys_only: bool = False,
           limit: int = 0) -> Op:
    return etcdrpc.RequestOp(request_range=_range_request(
        key, prefix=prefix, count_only=count_only, keys_only=keys_only, limit=limit))


def op_last_written(prefix: str) -> Op:
    """A range op for the key under `prefix` written last (keys only: its mod_revision)."""
    request = _range_request(prefix, prefix=True, keys_only=True, limit=1)
    request.sort_order = etcdrpc.RangeRequest.DESCEND
    request.sort_target = etcdrpc.RangeRequest.MOD
    return etcdrpc.RequestOp(request_range=request)


def op_delete(key: str, prefix: bool = False, end: str | None = None) -> Op:
    """Delete `key`, every key under it (`prefix`), or the keys from it up to `end`."""
    raw = key.encode()
    range_end = end.encode() if end is not None else prefix_end(raw) if prefix else b""
    return etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(
        key=raw, range_end=range_end))


def _compare(key: str, target, result, **value) -> Compare:
    return etcdrpc.Compare(key=key.encode(), target=target, result=result, **value)


def cmp_absent(key: str) -> Compare:
    return _compare(key, etcdrpc.Compare.CREATE, etcdrpc.Compare.EQUAL, create_revision=0)


def cmp_present(key: str) -> Compare:
    return _compare(key, etcdrpc.Compare.CREATE, etcdrpc.Compare.GREATER, create_revision=0)


def cmp_mod_revision(key: str, revision: int) -> Compare:
    return _compare(key, etcdrpc.Compare.MOD, etcdrpc.Compare.EQUAL, mod_revision=revision)


def cmp_unchanged_since(prefix: str, revision: int) -> Compare:
    """No key under `prefix` written after `revision` (etcd checks every key of the range;
    none holds too)."""
    raw = prefix.encode()
    return etcdrpc.Compare(key=raw, range_end=prefix_end(raw), target=etcdrpc.Compare.MOD,
                           result=etcdrpc.Compare.LESS, mod_revision=revision + 1)


def cmp_value(key: str, value: bytes) -> Compare:
    return _compare(key, etcdrpc.Compare.VALUE, etcdrpc.Compare.EQUAL, value=value)


class TxnResult:
    """What a transaction did: whether its compares held, its revision and each op's reply."""

    def __init__(self, succeeded: bool, revision: int, responses):
        self.succeeded = succeeded
        self.revision = revision
        self._responses = responses

    @classmethod
    def of(cls, response) -> TxnResult:
        return cls(response.succeeded, response.header.revision, response.responses)

    def part(self, start: int, count: int) -> TxnResult:
        """The replies of ops [start, start+count): one caller's share of a merged transaction."""
        return TxnResult(self.succeeded, self.revision, self._responses[start:start + count])

    def entries(self, index: int) -> list[Entry]:
        return [entry_of(kv) for kv in self._responses[index].response_range.kvs]

    def entry(self, index: int) -> Entry | None:
        found = self.entries(index)
        return found[0] if found else None

    def count(self, index: int) -> int:
        return self._responses[index].response_range.count

    def holds(self, index: int, value: bytes) -> bool:
        """Whether the key read at `index` holds exactly `value`. Read by the failure branch
        of a transaction that writes a value no other caller would: its compare failed
        because its own commit went through and the reply was lost (etcd stopped after
        applying it), and the client re-sent it."""
        found = self.entry(index)
        return found is not None and found.value == value

    def prev(self, index: int) -> Entry | None:
        put = self._responses[index].response_put
        return entry_of(put.prev_kv) if put.HasField("prev_kv") else None


class KV:
    """A process's etcd client. Thread- and greenlet-safe; one per process (never across fork)."""

    def __init__(self, hosts: list[str], timeout: float = 10.0,
                 security: EtcdSecurity | None = None):
        """`security` defaults to the MR_ETCD_USER/PASSWORD/CA_CERT/CERT/KEY settings."""
        self.hosts = list(hosts)
        self.timeout = timeout
        self.security = EtcdSecurity.from_env() if security is None else security
        options = [
            ("grpc.lb_policy_name", "round_robin"),
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ]
        target, tls_name = grpc_target(self.hosts)
        if tls_name and self.security.tls:  # else grpc checks the certificate against an IP
            options.append(("grpc.ssl_target_name_override", tls_name))
        try:
            self.security.check()
            self._channel = (grpc.secure_channel(target, self.security.channel_credentials(),
                                                 options)
                             if self.security.tls
                             else grpc.insecure_channel(target, options))
        except ValueError as exc:
            raise EtcdSecurityError(str(exc)) from None
        self._kv = etcdrpc.KVStub(self._channel)
        self._lease = etcdrpc.LeaseStub(self._channel)
        self._watch = etcdrpc.WatchStub(self._channel)
        self._auth = Authenticator(etcdrpc.AuthStub(self._channel), self.security, self.hosts)

    def close(self) -> None:
        self._channel.close()

    def _call(self, method, request):
        """Call with wait-for-ready and retry on transient errors until the deadline.

        Every write the engine makes is guarded by compares or idempotent, so re-sending one
        whose reply was lost is safe.
        """
        deadline = time.monotonic() + self.timeout
        delay = 0.05
        renewed = False
        while True:
            left = deadline - time.monotonic()
            try:
                reply = method(request, timeout=max(left, 0.01), wait_for_ready=True,
                               metadata=self._auth.metadata(left))
                if observer is not None:
                    observer(_method_name(method), time.monotonic() + self.timeout - deadline)
                return reply
            except grpc.RpcError as exc:
                if not renewed and self._auth.expired(exc):
                    renewed = True
                    continue  # a fresh token, then the same call again
                if exc.code() not in RETRYABLE:
                    raise self._no_space(exc) or self._auth.refusal(exc) or exc from None
                if time.monotonic() + delay >= deadline:
                    raise self._unavailable(exc) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _no_space(self, exc: grpc.RpcError) -> EtcdNoSpace | None:
        """etcd's refusal of a write at its space quota, in words that say what to do."""
        details = exc.details() or ""
        if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or "space" not in details:
            return None
        return EtcdNoSpace(
            f"etcd at {','.join(self.hosts)} is out of space ({details}): it takes no "
            f"writes until its NOSPACE alarm is cleared. Free space (mr_kv_request_cleanup "
            f"removes old requests), then run etcdctl compact <revision>, etcdctl defrag and "
            f"etcdctl alarm disarm; or give etcd a larger --quota-backend-bytes")

    def _unavailable(self, exc: grpc.RpcError) -> EtcdUnavailable:
        """Why etcd did not answer, in words: one quick call that does not wait tells."""
        why = ""
        try:
            self._kv.Range(_range_request(PROBE_KEY, count_only=True), timeout=1.0)
        except grpc.RpcError as probe:
            why = probe.details() or ""
        hosts, lower = ",".join(self.hosts), why.lower()
        if any(word in lower for word in ("ssl", "handshake", "certificate", "tls", "tsi_")):
            return EtcdSecurityError(f"TLS with etcd at {hosts} failed ({why.strip()}); check "
                                     f"MR_ETCD_CA_CERT, MR_ETCD_CERT and MR_ETCD_KEY")
        if "socket closed" in lower and not self.security.tls:
            return EtcdSecurityError(f"etcd at {hosts} closed the connection ({why.strip()}); "
                                     f"if it serves TLS, set MR_ETCD_CA_CERT (and MR_ETCD_CERT, "
                                     f"MR_ETCD_KEY when it wants client certificates)")
        return EtcdUnavailable(f"etcd at {hosts} did not answer within {self.timeout:g}s "
                               f"({exc.code().name}{': ' + why.strip() if why else ''}); "
                               f"is it running?")

    # --- reads ---------------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        reply = self._call(self._kv.Range, _range_request(key))
        return entry_of(reply.kvs[0]) if reply.kvs else None

    def range(self, prefix: str, limit: int = 0, start: str | None = None,
              keys_only: bool = False, revision: int = 0,
              descending: bool = False,
              by_mod_revision: bool = False) -> tuple[list[Entry], bool, int]:
        """Keys under `prefix` in key order, from `start` (inclusive); (entries, more, revision).

        `descending` gives the last keys first (then `start` is ignored); with
        `by_mod_revision` they are ordered by when they were last written instead.
        """
        request = _range_request(start or prefix, limit=limit, keys_only=keys_only,
                                 revision=revision, range_end=prefix_end(prefix.encode()))
        if descending:
            request.key = prefix.encode()
            request.sort_order = etcdrpc.RangeRequest.DESCEND
            request.sort_target = (etcdrpc.RangeRequest.MOD if by_mod_revision
                                   else etcdrpc.RangeRequest.KEY)
        reply = self._call(self._kv.Range, request)
        return [entry_of(kv) for kv in reply.kvs], reply.more, reply.header.revision

    def scan(self, prefix: str, page: int = 500, keys_only: bool = False,
             revision: int = 0) -> Iterator[Entry]:
        """Every key under `prefix`, fetched in pages at one revision (bounded memory).

        With `revision` 0 the first page pins the current revision for the rest.
        """
        start = None
        while True:
            entries, more, revision = self.range(prefix, limit=page, start=start,
                                                 keys_only=keys_only, revision=revision)
            yield from entries
            if not more or not entries:
                return
            start = entries[-1].key + "\0"

    def count(self, prefix: str, revision: int = 0) -> int:
        request = _range_request(prefix, prefix=True, count_only=True, revision=revision)
        return self._call(self._kv.Range, request).count

    def revision(self) -> int:
        reply = self._call(self._kv.Range, _range_request(PROBE_KEY, count_only=True))
        return reply.header.revision

    # --- writes --------------------------------------------------------------------------
    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        reply = self._call(self._kv.Put, etcdrpc.PutRequest(key=key.encode(), value=value,
                                                            lease=lease))
        return reply.header.revision

    def delete(self, key: str, prefix: bool = False) -> int:
        raw = key.encode()
        reply = self._call(self._kv.DeleteRange, etcdrpc.DeleteRangeRequest(
            key=raw, range_end=prefix_end(raw) if prefix else b""))
        return reply.deleted

    def txn(self, compare: list[Compare], success: list[Op],
            failure: list[Op] | None = None) -> TxnResult:
        if len(success) > MAX_TXN_OPS or len(failure or ()) > MAX_TXN_OPS:
            raise ValueError(f"a transaction holds at most {MAX_TXN_OPS} operations")
        request = etcdrpc.TxnRequest(compare=compare, success=success, failure=failure or [])
        return TxnResult.of(self._call(self._kv.Txn, request))

    def submit(self, compare: list[Compare], success: list[Op],
               failure: list[Op] | None = None) -> Callable[[], TxnResult]:
        """txn() now; returns a waiter for its result (BatchingKV's runs in the background)."""
        result = self.txn(compare, success, failure)
        return lambda: result

    # --- leases --------------------------------------------------------------------------
    def lease_grant(self, ttl: int) -> int:
        return self._call(self._lease.LeaseGrant, etcdrpc.LeaseGrantRequest(TTL=ttl)).ID

    def lease_keepalive(self, lease_id: int) -> int:
        """Refresh a lease once; returns its remaining TTL (0 when it has expired)."""
        for attempt in (1, 2):
            replies = self._lease.LeaseKeepAlive(
                iter([etcdrpc.LeaseKeepAliveRequest(ID=lease_id)]), timeout=self.timeout,
                metadata=self._auth.metadata(self.timeout))
            try:
                for reply in replies:
                    return reply.TTL
                return 0
            except grpc.RpcError as exc:
                if attempt == 2 or not self._auth.expired(exc):  # else: with a fresh token
                    if exc.code() in RETRYABLE:
                        raise self._unavailable(exc) from None
                    raise self._auth.refusal(exc) or exc from None
        return 0

    def lease_revoke(self, lease_id: int) -> None:
        try:
            self._call(self._lease.LeaseRevoke, etcdrpc.LeaseRevokeRequest(ID=lease_id))
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise

    # --- watches -------------------------------------------------------------------------
    def watch_prefix(self, prefix: str, start_revision: int) -> Watch:
        """Every change under `prefix` from `start_revision` on (see mr.kv.watch)."""
        return Watch(self._watch, prefix, start_revision, self._auth)


_clients: dict[tuple, KV] = {}
_clients_lock = threading.Lock()


def client(hosts: list[str], timeout: float = 10.0) -> KV:
    """This process's client for `hosts` (a new one after fork: grpc channels do not survive
    it)."""
    key = (os.getpid(), tuple(hosts), timeout)
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = KV(hosts, timeout)
        return found
