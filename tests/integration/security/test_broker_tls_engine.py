"""Workers consume over TLS (MR_NSQD_TLS) from a broker that requires it; a worker without TLS
is refused with nsqd's error in its log."""
from __future__ import annotations

import json
import sys
import urllib.request

from mr import cluster
from mr.cluster import wait_for
from mr.kv import entities
from mr.kv.models import Job, Step, Workflow
from tests.integration.conftest import CASES_DIR
from tests.support import tls
from tests.support.cluster import start_cluster, unique


def tls_broker(tmp, certs) -> cluster.Service:
    tcp, http = cluster.free_port(), cluster.free_port()
    return cluster.Service("broker", [
        sys.executable, "-m", "mr.broker", f"--tcp-address=127.0.0.1:{tcp}",
        f"--http-address=127.0.0.1:{http}", f"--data-path={tmp / 'broker'}",
        "--tls-cert", str(certs.server.cert), "--tls-key", str(certs.server.key),
        "--tls-required"], tmp / "broker.log", cluster.http_ok(f"http://127.0.0.1:{http}/ping"),
        address=f"127.0.0.1:{tcp}", http_address=f"127.0.0.1:{http}")


def worker_clients(engine) -> list[dict]:
    with urllib.request.urlopen(f"http://{engine.broker.http_address}/stats?format=json",
                                timeout=5) as reply:
        stats = json.load(reply)
    return [c for t in stats["topics"] for ch in t["channels"] for c in ch["clients"]]


def test_workers_consume_over_tls(etcd, tmp_path):
    certs = tls.make_certificates(tmp_path / "certs")
    wf = unique("tls")
    engine = start_cluster(tmp_path, etcd.address, [wf], {
        "MR_NSQD_TLS": "1", "MR_NSQD_TLS_CA_CERT": str(certs.ca)})
    engine.broker.stop()
    engine.broker = tls_broker(tmp_path, certs).start()
    try:
        entities.create_workflow(engine.kv, Workflow(wf, "over TLS"))
        assert engine.sync(wf, CASES_DIR).returncode == 0
        for step in (Step(wf, "nest_root", "nest_root", "sum_values"),
                     Step(wf, "middle", "nest_middle", "sum_values"),
                     Step(wf, "leaf", "nest_leaf", "sum_values")):
            entities.save(engine.kv, step)
        entities.save(engine.kv, Job(wf, "nested", "nest_root"))
        engine.start_workers(1)
        engine.start_web()
        reply = engine.post(wf, "nested", {"n": 4})
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"] == [["total", sum(10 * i + j for i in range(4)
                                                        for j in range(3))]]
        clients = worker_clients(engine)
        assert clients and all(c["tls"] and c["user_agent"].startswith("mr-worker")
                               for c in clients)
        # A worker without MR_NSQD_TLS is refused, and says why in its log.
        plain_env = {k: v for k, v in engine.env.items() if not k.startswith("MR_NSQD_TLS")}
        plain = cluster.worker("plain", plain_env, tmp_path / "plain.log").start()
        try:
            wait_for(lambda: "cannot SUB in current state (TLS required)"
                     in (tmp_path / "plain.log").read_text(), timeout=30,
                     message="the refusal in the plain worker's log")
        finally:
            plain.stop()
    finally:
        engine.stop()
