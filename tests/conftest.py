"""Shared fixtures: a real etcd per test session (tests isolate themselves by key prefix).

Console scripts run by tests are the ones installed next to the running Python (the
project's .venv), never another installation that happens to be first on PATH.
"""
import os
import sys
from pathlib import Path

import pytest

from tests.support.etcd import start_etcd

os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


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
