"""etcd with TLS client certificates and authentication, as in production: a real etcd started
with --client-cert-auth, auth enabled through etcd's own Auth API, and real mr processes that
reach it only with MR_ETCD_CA_CERT/CERT/KEY and MR_ETCD_USER/PASSWORD."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyetcd import etcdrpc

from mr.kv import entities
from mr.kv.client import KV, EtcdSecurityError, EtcdUnavailable
from mr.kv.models import Job, Step, Workflow
from mr.kv.security import EtcdSecurity
from tests.integration.conftest import CASES_DIR
from tests.support import tls
from tests.support.cluster import start_cluster, unique

PASSWORD = "s3cret-pw"


def enable_auth(admin: KV) -> None:
    """root (needed before auth can be enabled) and user `mr` with read-write on /mr/ only."""
    auth = etcdrpc.AuthStub(admin._channel)
    auth.UserAdd(etcdrpc.AuthUserAddRequest(name="root", password="root-pw"), timeout=10)
    auth.UserGrantRole(etcdrpc.AuthUserGrantRoleRequest(user="root", role="root"), timeout=10)
    auth.RoleAdd(etcdrpc.AuthRoleAddRequest(name="mr"), timeout=10)
    auth.RoleGrantPermission(etcdrpc.AuthRoleGrantPermissionRequest(
        name="mr", perm=etcdrpc.Permission(permType=etcdrpc.Permission.READWRITE, key=b"/mr/",
                                           range_end=b"/mr0")), timeout=10)
    auth.UserAdd(etcdrpc.AuthUserAddRequest(name="mr", password=PASSWORD), timeout=10)
    auth.UserGrantRole(etcdrpc.AuthUserGrantRoleRequest(user="mr", role="mr"), timeout=10)
    auth.AuthEnable(etcdrpc.AuthEnableRequest(), timeout=10)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return tls.make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def secure(certs, tmp_path_factory):
    """etcd over TLS with client certificates and auth on; tokens live one second."""
    tmp = tmp_path_factory.mktemp("etcd-tls")
    server = tls.secure_etcd(tmp / "data", tmp / "etcd.log", certs,
                             "--auth-token-ttl", "1").start()
    admin = KV([server.address], timeout=10, security=tls_only(certs))
    enable_auth(admin)
    admin.close()
    yield server
    server.stop()


def tls_only(certs, **overrides) -> EtcdSecurity:
    fields = dict(ca_cert=str(certs.ca), cert=str(certs.client.cert), key=str(certs.client.key))
    return EtcdSecurity(**{**fields, **overrides})


def env_for(certs, user: str = "mr", password: str = PASSWORD) -> dict[str, str]:
    return {"MR_ETCD_CA_CERT": str(certs.ca), "MR_ETCD_CERT": str(certs.client.cert),
            "MR_ETCD_KEY": str(certs.client.key), "MR_ETCD_USER": user,
            "MR_ETCD_PASSWORD": password}


def client(secure, security: EtcdSecurity, timeout: float = 10) -> KV:
    return KV([secure.address], timeout=timeout, security=security)


def test_user_with_client_certificate_reads_writes_watches_and_leases(secure, certs):
    kv = client(secure, tls_only(certs, user="mr", password=PASSWORD))
    key = f"/mr/test/{unique('k')}"
    kv.put(key, b"v1")
    assert kv.get(key).value == b"v1"
    watch = kv.watch_prefix(key, kv.revision() + 1)
    lease = kv.lease_grant(30)
    kv.put(key, b"v2", lease=lease)
    revision, events = next(iter(watch))
    watch.cancel()
    assert [e.entry.value for e in events] == [b"v2"]
    assert kv.lease_keepalive(lease) > 0
    kv.lease_revoke(lease)
    assert kv.get(key) is None


def test_an_expired_token_is_renewed(secure, certs):
    kv = client(secure, tls_only(certs, user="mr", password=PASSWORD))
    key = f"/mr/test/{unique('k')}"
    kv.put(key, b"1")
    kv._auth._token = "stale.token"  # what an expired or revoked token looks like to etcd
    assert kv.get(key).value == b"1"
    assert kv._auth._token != "stale.token"
    lease = kv.lease_grant(30)
    kv._auth._token = "stale.token"
    assert kv.lease_keepalive(lease) > 0
    kv._auth._token = "stale.token"
    with pytest.raises(EtcdUnavailable, match="invalid auth token"):  # watchers re-watch
        next(iter(kv.watch_prefix(key, 1)))
    watch = kv.watch_prefix(key, 1)  # from the start: replays the put above
    assert next(iter(watch))[1][0].entry.value == b"1"
    watch.cancel()


@pytest.mark.parametrize("overrides, message", [
    ({"user": "mr", "password": "wrong"},
     "refused user 'mr': authentication failed, invalid user ID or password; check "
     "MR_ETCD_USER and MR_ETCD_PASSWORD"),
    ({}, "denied access without a user (permission denied); set MR_ETCD_USER and "
          "MR_ETCD_PASSWORD"),
])
def test_wrong_or_missing_credentials_are_clear_errors(secure, certs, overrides, message):
    with pytest.raises(EtcdSecurityError) as info:
        client(secure, tls_only(certs, **overrides)).get("/mr/x")
    assert message in str(info.value)


def test_keys_outside_the_role_are_denied(secure, certs):
    kv = client(secure, tls_only(certs, user="mr", password=PASSWORD))
    with pytest.raises(EtcdSecurityError) as info:
        kv.put("/elsewhere/x", b"1")
    assert "denied user 'mr': permission denied" in str(info.value)


@pytest.mark.parametrize("overrides, message", [
    ({"cert": "", "key": ""}, "TLS with etcd at"),                 # no client certificate
    ({"ca_cert": "OTHER"}, "CERTIFICATE_VERIFY_FAILED"),            # server not trusted
    ({"cert": "STRANGER", "key": "STRANGER_KEY"}, "TLS with etcd at"),  # client not trusted
    ({"ca_cert": "", "cert": "", "key": ""}, "if it serves TLS, set MR_ETCD_CA_CERT"),
])
def test_tls_mismatches_are_clear_errors(secure, certs, overrides, message):
    named = {"OTHER": str(certs.other_ca), "STRANGER": str(certs.stranger.cert),
             "STRANGER_KEY": str(certs.stranger.key)}
    security = tls_only(certs, user="mr", password=PASSWORD,
                        **{k: named.get(v, v) for k, v in overrides.items()})
    with pytest.raises(EtcdUnavailable) as info:
        client(secure, security, timeout=2).get("/mr/x")
    assert message in str(info.value)
    assert isinstance(info.value, EtcdSecurityError)


@pytest.mark.parametrize("overrides, message", [
    ({"cert": "/nonexistent.pem"}, "MR_ETCD_CERT=/nonexistent.pem: cannot read it"),
    ({"key": ""}, "MR_ETCD_CERT and MR_ETCD_KEY go together"),
    ({"ca_cert": __file__}, "not a PEM file"),
])
def test_bad_tls_settings_are_refused_before_connecting(certs, overrides, message):
    with pytest.raises(EtcdSecurityError) as info:
        KV(["127.0.0.1:1"], security=tls_only(certs, **overrides))
    assert message in str(info.value)


def test_scripts_use_the_security_settings(secure, certs):
    env = {**os.environ, "MR_ETCD_HOSTS": secure.address, **env_for(certs)}
    bin_dir = Path(sys.executable).parent
    name = unique("wf")

    def run(script: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(bin_dir / script), *args], env={**env, **extra},
                              capture_output=True, text=True, timeout=60)
    ok = run("mr_kv_workflow_create", name, "secure")
    listed = run("mr_kv_workflow_list")
    assert ok.returncode == 0 and name in listed.stdout, ok.stderr + listed.stderr
    refused = run("mr_kv_workflow_list", MR_ETCD_PASSWORD="nope")
    assert refused.returncode == 3
    assert refused.stderr.startswith("error: etcd at ")
    assert refused.stderr.strip().endswith("refused user 'mr': authentication failed, invalid "
                                           "user ID or password; check MR_ETCD_USER and "
                                           "MR_ETCD_PASSWORD")


def test_whole_engine_over_tls_and_auth(secure, certs, tmp_path):
    """Broker, worker and gunicorn reach etcd only with certificates and a password."""
    wf = unique("sec")
    engine = start_cluster(tmp_path, secure.address, [wf], env_for(certs))
    engine.kv = client(secure, tls_only(certs, user="mr", password=PASSWORD))
    try:
        entities.create_workflow(engine.kv, Workflow(wf, "over TLS"))
        synced = engine.sync(wf, CASES_DIR)
        assert synced.returncode == 0, synced.stderr
        entities.save(engine.kv, Step(wf, "nest_root", "nest_root", "sum_values"))
        entities.save(engine.kv, Step(wf, "middle", "nest_middle", "sum_values"))
        entities.save(engine.kv, Step(wf, "leaf", "nest_leaf", "sum_values"))
        entities.save(engine.kv, Job(wf, "nested", "nest_root"))
        engine.start_workers(1)
        engine.start_web()
        for n in (2, 5):
            reply = engine.post(wf, "nested", {"n": n})
            assert reply.status_code == 200, reply.text
            assert reply.json()["result"] == [["total", sum(10 * i + j for i in range(n)
                                                            for j in range(3))]]
    finally:
        engine.stop()
