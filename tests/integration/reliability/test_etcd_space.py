"""etcd at its space quota (its NOSPACE alarm): a clear 503 at once, nothing half-written, and
the work goes on once an operator frees space and clears the alarm."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess

import pytest
import requests

from mr import cluster
from mr.cluster import wait_for
from mr.kv import keys
from mr.kv.client import KV
from mr.kv.errors import EtcdNoSpace
from tests.integration.reliability.conftest import build, start_tree, tree_total

QUOTA = 16 * 1024 * 1024
JUNK = "/junk/"


@pytest.fixture
def small_etcd(tmp_path):
    plain = cluster.etcd(tmp_path / "etcd-data", tmp_path / "etcd.log")
    server = dataclasses.replace(plain, argv=plain.argv + ["--quota-backend-bytes", str(QUOTA)])
    yield server.start()
    server.stop()


def fill(kv: KV) -> int:
    """Write junk until etcd refuses: its NOSPACE alarm is then raised."""
    for i in range(QUOTA // (512 * 1024) * 4):
        try:
            kv.put(f"{JUNK}{i}", b"x" * (512 * 1024))
        except EtcdNoSpace:
            return i
    raise AssertionError("etcd never ran out of space")


def free_space(address: str) -> None:
    """What the 503 tells an operator to do, with etcdctl (scripts/install installs it):
    remove what filled it, compact, defragment, disarm the alarm."""
    def etcdctl(*argv: str) -> str:
        done = subprocess.run(["etcdctl", f"--endpoints={address}", *argv], capture_output=True,
                              text=True, timeout=60, env={**os.environ, "ETCDCTL_API": "3"})
        assert done.returncode == 0, done.stderr
        return done.stdout
    etcdctl("del", "--prefix", JUNK)
    revision = json.loads(etcdctl("endpoint", "status", "-w", "json"))[0]["Status"]["header"][
        "revision"]
    etcdctl("compact", str(revision), "--physical")
    etcdctl("defrag")
    etcdctl("alarm", "disarm")


def test_etcd_out_of_space_is_a_clear_503_and_work_resumes_once_freed(small_etcd, tmp_path):
    engine = build(tmp_path / "cluster", small_etcd.address)
    try:
        running = start_tree(engine, sleep=1.0)
        fill(engine.kv)
        assert engine.get_request(engine.wf, running).json()["state"] == "running"
        refused = requests.post(f"{engine.web.url}/job/{engine.wf}/tree",
                                json={"arguments": {"groups": 1, "leaves": 1}}, timeout=30)
        assert refused.status_code == 503, refused.text
        error = refused.json()["error"]
        assert "out of space" in error and "etcdctl alarm disarm" in error
        assert refused.elapsed.total_seconds() < 5      # at once, not after MR_ETCD_TIMEOUT_S

        free_space(small_etcd.address)
        body = engine.wait_ended(engine.wf, running, timeout=90)
        assert body["state"] == "done", body
        assert body["result"] == [["total", tree_total(4, 6)]]
        again = engine.post(engine.wf, "tree", {"groups": 2, "leaves": 3})
        assert again.status_code == 200 and again.json()["result"] == [["total",
                                                                        tree_total(2, 3)]]
        assert wait_for(lambda: engine.kv.count(keys.request_data(engine.wf, running)) == 0,
                        timeout=30, message="the request's data cleaned up")
    finally:
        engine.stop()
