"""End to end through a real nginx, as in production: client -> nginx running the project's own
nginx/mr.conf -> gunicorn (mr_start_gunicorn_prod) on a unix socket -> mr_broker, a worker, etcd.

nginx runs in the foreground as the test's user, with every path (pid, logs, temp files) under
the test's directory and a free loopback port instead of port 80.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from mr import cluster, examples, topology
from mr.cluster import free_port, wait_for
from mr.trace.store import load_request
from tests.support.cluster import REPO, start_cluster, unique

NGINX = topology.nginx_binary()
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed "
                                                      "(scripts/install apt-installs it)")

CLIENT_IP = "203.0.113.7"   # a documentation address the client claims to forward for


def gunicorn_prod(env: dict[str, str], sock: Path, log: Path) -> cluster.Service:
    """The production launcher, bound to the socket nginx proxies to."""
    launcher = shutil.which("mr_start_gunicorn_prod")
    if launcher is None:
        pytest.fail("mr_start_gunicorn_prod is not on PATH: run pip install -e .")
    return cluster.Service("gunicorn", [launcher], log, cluster.unix_http_ok(sock),
                           env={**env, "MR_HTTP_BIND": f"unix:{sock}", "MR_HTTP_WORKERS": "2"})


def nginx(tmp: Path, sock: Path) -> cluster.Service:
    port = free_port()
    site, conf = tmp / "mr-site.conf", tmp / "nginx.conf"
    # nginx/mr.conf itself, with this socket and a loopback port (as the topology runs it)
    site.write_text(topology.render_site([sock], port))
    conf.write_text(topology.render_main(tmp, site))
    url = f"http://127.0.0.1:{port}"
    # Ready when GET / comes back 200 through nginx: the whole chain answers.
    return cluster.Service("nginx", [NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"),
                                     "-c", str(conf), "-g", "daemon off;"],
                           tmp / "nginx.out", cluster.http_ok(f"{url}/"), url=url)


@pytest.fixture(scope="module")
def proxied(etcd, tmp_path_factory):
    """(engine, nginx service, workflow) with the example jobs defined."""
    tmp = tmp_path_factory.mktemp("nginx")
    wf = unique("nginx")
    engine = start_cluster(tmp, etcd.address, [wf])
    proxy = None
    try:
        examples.define(engine.kv, REPO / "handlers", workflow=wf)
        engine.start_workers(1)
        sock = tmp / "gunicorn.sock"
        engine.web = gunicorn_prod(engine.env, sock, tmp / "gunicorn.log").start()
        proxy = nginx(tmp, sock).start()
        yield engine, proxy, wf
    finally:
        if proxy is not None:
            proxy.stop()
        engine.stop()


def test_post_through_nginx_keeps_the_forwarded_client(proxied):
    engine, proxy, wf = proxied
    reply = requests.post(f"{proxy.url}/job/{wf}/squares", json={"arguments": {"n": 10}},
                          headers={"X-Forwarded-For": CLIENT_IP}, timeout=60)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["state"] == "done" and body["result"] == [["sum", 285]]
    assert reply.headers["X-MR-REQUEST-ID"] == body["request_id"]
    # nginx appended its peer to the client's header; the front-end keeps the first hop.
    request = load_request(engine.kv, wf, body["request_id"])
    assert request.context["requester_ip"] == CLIENT_IP
    access_log = Path(proxy.log_path).parent / "access.log"
    line = f"POST /job/{wf}/squares HTTP/1.1\" 200"
    wait_for(lambda: line in access_log.read_text(), timeout=10,
             message="nginx wrote the request to its access log")


def test_nginx_sets_the_client_address_and_passes_errors(proxied):
    engine, proxy, wf = proxied
    reply = requests.post(f"{proxy.url}/job/{wf}/squares", params={"blocking": "false"},
                          json={"arguments": {"n": 3}}, timeout=30)
    assert reply.status_code == 202, reply.text
    rid = reply.headers["X-MR-REQUEST-ID"]
    # Over a unix socket gunicorn sees no peer address: only X-Forwarded-For names the client.
    assert load_request(engine.kv, wf, rid).context["requester_ip"] == "127.0.0.1"
    status = requests.get(f"{proxy.url}/request/{wf}/{rid}", timeout=30)
    assert status.status_code == 200 and status.json()["request_id"] == rid
    missing = requests.post(f"{proxy.url}/job/{wf}/ghost", json={"arguments": {}}, timeout=30)
    assert missing.status_code == 404 and "ghost" in missing.json()["error"]
