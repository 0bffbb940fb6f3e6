"""Shared fixtures: a real etcd per test session (tests isolate themselves by key prefix)."""
import pytest

from tests.support.etcd import start_etcd


@pytest.fixture(scope="session")
def etcd(tmp_path_factory):
    server = start_etcd(tmp_path_factory.mktemp("etcd"))
    yield server
    server.stop()


@pytest.fixture
def kv(etcd):
    from mr.kv.client import KV
    client = KV([etcd.address], timeout=5)
    yield client
    client.close()
