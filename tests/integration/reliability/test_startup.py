"""etcd or the broker unreachable when a process starts: each says so clearly, and the worker
recovers on its own once the broker is there.

Covered elsewhere: mr_worker without etcd (tests/integration/worker/test_cli.py, exit 3 with
advice), the front-end without etcd or the broker (tests/integration/test_end_to_end.py, 503
with the reason), every admin script without etcd (tests/integration/cli).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mr import cluster
from mr.cluster import free_port, wait_for

BIN = Path(sys.executable).parent


def test_handler_sync_says_etcd_is_down(tmp_path):
    env = {"PATH": os.environ["PATH"], "MR_ETCD_HOSTS": f"127.0.0.1:{free_port()}",
           "MR_ETCD_TIMEOUT_S": "1"}
    done = subprocess.run([str(BIN / "mr_kv_handler_store"), "w", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("error: etcd at 127.0.0.1:")
    assert "did not answer within 1s" in done.stderr and "Start etcd" in done.stderr


def test_worker_started_before_the_broker_says_so_then_connects(rel, tmp_path):
    """The worker logs that it cannot reach nsqd, keeps retrying, and connects once it is up."""
    tcp, http = free_port(), free_port()
    env = {**rel.env, "MR_NSQD_HOSTS": f"127.0.0.1:{tcp}", "MR_NSQD_HTTP_HOSTS":
           f"127.0.0.1:{http}"}
    log = tmp_path / "early-worker.log"
    worker = cluster.worker("early", env, log).start()
    broker = cluster.broker(tmp_path / "late-broker", tmp_path / "late-broker.log", tcp, http)
    try:
        wait_for(lambda: f"cannot reach nsqd at 127.0.0.1:{tcp}" in log.read_text(),
                 timeout=30, message="the worker's complaint", process=worker.proc, log=log)
        assert "Traceback" not in log.read_text()
        broker.start()
        wait_for(lambda: f"connected to nsqd at 127.0.0.1:{tcp}" in log.read_text(),
                 timeout=30, message="the worker connected", process=worker.proc, log=log)
    finally:
        worker.stop()
        broker.stop()
    assert worker.proc.returncode == 0
