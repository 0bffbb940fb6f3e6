"""The web view behind the project's own nginx/mr.conf: nginx serves the static files from the
package's directory itself, and passes event streams on as they come (not buffered)."""
from __future__ import annotations

import pytest
import requests

from mr.kv import entities
from mr.kv.models import Job, Step, Workflow
from mr.web.ui_http import STATIC_DIR
from tests.integration import test_nginx as site
from tests.integration.ui.conftest import HANDLERS, SHARED
from tests.integration.ui.test_streams import events
from tests.support.cluster import start_cluster, unique

PROD_STATIC = "alias /opt/mr/static/;"


@pytest.fixture(scope="module")
def proxied(etcd, tmp_path_factory):
    if site.NGINX is None:
        pytest.fail("nginx is not installed: run scripts/install (it apt-installs it)",
                    pytrace=False)
    tmp = tmp_path_factory.mktemp("ui-nginx")
    wf = unique("uinginx")
    engine = start_cluster(tmp, etcd.address, [wf])
    proxy = None
    try:
        entities.create_workflow(engine.kv, Workflow(wf, "web view behind nginx"))
        assert engine.sync(wf, HANDLERS, shared=SHARED).returncode == 0
        for step in (Step(wf, "track_root", "track_root", "total"),
                     Step(wf, "track_leaf", "track_leaf", "total")):
            entities.save(engine.kv, step)
        entities.save(engine.kv, Job(wf, "fan", "track_root"))
        engine.start_workers(1)
        sock = tmp / "gunicorn.sock"
        engine.web = site.gunicorn_prod(engine.env, sock, tmp / "gunicorn.log").start()
        proxy = site.nginx(tmp, sock)
        conf = tmp / "mr-site.conf"
        text = conf.read_text()
        assert text.count(PROD_STATIC) == 1, f"nginx/mr.conf should hold {PROD_STATIC!r} once"
        conf.write_text(text.replace(PROD_STATIC, f"alias {STATIC_DIR}/;"))
        proxy.start()
        yield engine, proxy, wf
    finally:
        if proxy is not None:
            proxy.stop()
        engine.stop()


def test_nginx_serves_the_static_files_itself(proxied):
    _, proxy, _ = proxied
    css = requests.get(f"{proxy.url}/ui/static/ui.css", timeout=10)
    assert css.status_code == 200 and css.content == (STATIC_DIR / "ui.css").read_bytes()
    # nginx's own file serving: validators and an expiry, which gunicorn's route does not send
    assert "ETag" in css.headers and "Expires" in css.headers
    assert requests.get(f"{proxy.url}/ui/static/nope.js", timeout=10).status_code == 404


def test_events_pass_through_nginx_as_they_come(proxied):
    _, proxy, wf = proxied
    reply = requests.post(f"{proxy.url}/job/{wf}/fan", params={"blocking": "false"},
                          json={"arguments": {"n": 12, "sleep": 0.5}}, timeout=30)
    rid = reply.json()["request_id"]
    with requests.get(f"{proxy.url}/ui/{wf}/request/{rid}/events", stream=True,
                      timeout=60) as stream:
        feed = events(stream)
        name, first = next(feed)
        assert name == "progress" and first["state"] == "running"
        # the first event arrived while the request still runs: nothing held it back
        state = requests.get(f"{proxy.url}/request/{wf}/{rid}", timeout=10).json()["state"]
        assert state == "running"
        assert [n for n, _ in feed][-1] == "end"
    page = requests.get(f"{proxy.url}/ui/{wf}/request/{rid}", timeout=10)
    assert page.status_code == 200 and 'data-percent="100"' in page.text
