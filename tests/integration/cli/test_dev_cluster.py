"""The README's main job: `mr_dev_cluster run-example` starts the dev cluster (on its fixed
ports), counts the licence texts as a text job and as a data job over the files, and checks
both against an in-process count; `stop` ends every process it started."""
from __future__ import annotations

import os
import socket
import subprocess

import pytest

from mr.cli import dev_cluster

PORTS = (dev_cluster.ETCD_PORT, dev_cluster.BROKER_TCP, dev_cluster.BROKER_HTTP,
         dev_cluster.HTTP_PORT)


def in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_run_example_counts_the_text_and_the_files(tmp_path):
    busy = [port for port in PORTS if in_use(port)]
    if busy:
        pytest.skip(f"the dev cluster's fixed ports {busy} are taken on this host")
    env = {**os.environ, "MR_DEV_DIR": str(tmp_path)}
    try:
        ran = subprocess.run(["mr_dev_cluster", "run-example", "--top", "3"], env=env,
                             capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "matches an in-process count of the same text" in ran.stdout
        assert "as a data job" in ran.stdout and "matches too" in ran.stdout
        assert ran.stdout.count("worker") >= 2     # a worker per core, two at least
    finally:
        stopped = subprocess.run(["mr_dev_cluster", "stop"], env=env, capture_output=True,
                                 text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert not any(in_use(port) for port in PORTS)
