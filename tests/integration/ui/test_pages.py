"""The web view's pages and fragments over HTTP: paging of children, the bounded drawing of a
big request, static files, errors."""
from __future__ import annotations

import re

import pytest
import requests

from mr.kv import keys
from mr.kv.models import Invocation, Request
from mr.web import ui_data, ui_graph, ui_render


def get(engine, path: str, **params) -> requests.Response:
    return requests.get(f"{engine.web.url}{path}", params=params, timeout=30)


@pytest.fixture(scope="module")
def wide(engine) -> str:
    """A done request of 250 leaves under the root."""
    reply = engine.post(engine.wf, "fan", {"n": 250})
    assert reply.status_code == 200, reply.text
    return reply.json()["request_id"]


def ids(fragment: str) -> list[str]:
    return re.findall(r'<li class="node[^"]*" data-iid="([^"]+)"', fragment)


def test_children_come_a_page_at_a_time_without_grandchildren(engine, wide):
    base = f"/ui/{engine.wf}/request/{wide}/children"
    first = get(engine, base, of="0")
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("text/html")
    assert ids(first.text) == [f"0.{i}" for i in range(ui_data.PAGE)]
    assert "children 1–100 of 250" in first.text and 'data-start="100"' in first.text
    last = get(engine, base, of="0", start="200").text
    assert ids(last) == [f"0.{i}" for i in range(200, 250)] + ["0.r"]  # reduction last
    assert "next" not in last and 'data-start="100"' in last            # only "previous"
    top = get(engine, base, of="^").text
    assert ids(top) == ["0"] and "250 children" in top
    assert get(engine, base, of="0.1").text.count("<li ") == 1         # a leaf: "no children"
    bad = get(engine, base, of="0/../x")
    assert bad.status_code == 400 and "not an invocation id" in bad.json()["error"]


def test_request_page_shows_the_root_and_its_first_page(engine, wide):
    page = get(engine, f"/ui/{engine.wf}/request/{wide}")
    assert page.status_code == 200
    shown = ids(page.text)
    assert shown[0] == "0" and len(shown) == 1 + ui_data.PAGE
    assert 'data-percent="100"' in page.text and "252 done" in page.text
    assert "tallies: leaves <b>250</b> · roots <b>1</b>" in page.text
    assert "graph.svg" in page.text and 'src="/ui/static/request.js"' in page.text
    total = sum(j * j for j in range(250))
    assert f'<td><code>&quot;total&quot;</code></td><td><code>{total}</code></td>' in page.text
    assert "1 pair." in page.text and "download as JSON" in page.text
    assert '<button type="button" id="pause" hidden>' in page.text   # only while it runs


def test_a_request_whose_records_are_gone_shows_why_there_is_no_graph(engine):
    reply = engine.post(engine.wf, "fan", {"n": 2})
    rid = reply.json()["request_id"]
    engine.kv.delete(keys.invocations(engine.wf, rid), prefix=True)   # as cleanup would
    page = get(engine, f"/ui/{engine.wf}/request/{rid}")
    assert page.status_code == 200
    assert "No graph: the invocation records are gone" in page.text and "<img" not in page.text
    assert "1 pair." in page.text     # the result is in the request's record: still shown


def test_a_big_request_is_drawn_a_few_levels_deep(engine, wide):
    svg = get(engine, f"/ui/{engine.wf}/request/{wide}/graph.svg")
    assert svg.status_code == 200 and svg.headers["Content-Type"] == "image/svg+xml"
    assert svg.text.lstrip().startswith("<?xml") and "<svg" in svg.text
    hidden = 250 - ui_graph.FAN
    assert f"… {hidden} more" in svg.text
    assert f"{1 + ui_graph.FAN} of 252 invocations drawn" in svg.text


def test_a_small_failed_request_is_drawn_whole_with_the_failure_marked(engine):
    reply = engine.post(engine.wf, "fan", {"n": 3, "fail_at": 2})
    assert reply.status_code == 500
    svg = get(engine, f"/ui/{engine.wf}/request/{reply.json()['request_id']}/graph.svg").text
    assert 'class="node failed"' in svg and "FAILED: RuntimeError: leaf 2 is broken" in svg
    assert "more" not in svg


def test_static_files_and_errors(engine):
    css = get(engine, "/ui/static/ui.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    script = get(engine, "/ui/static/request.js")
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    for missing in ("/ui/static/nope.js", "/ui/static/..%2Fui.py", "/ui/static/.hidden"):
        assert get(engine, missing).status_code == 404, missing
    index = get(engine, "/ui/")
    assert index.status_code == 200 and f'href="/ui/{engine.wf}/"' in index.text
    unknown = get(engine, f"/ui/{engine.wf}/request/ffff")
    assert unknown.status_code == 404 and "not found" in unknown.json()["error"]
    assert get(engine, "/ui/no_such_workflow/").status_code == 404


def test_values_from_etcd_are_escaped():
    request = Request("wf", "r1", "job<i>", [], state="failed", failure={
        "reason": "handler", "message": "<script>alert(1)</script>", "invocation": "0.1",
        "traceback": "Traceback: <img src=x onerror=alert(1)>", "log": "a & b"})
    html = ui_render.summary(request) + ui_render.failure(request)
    assert "<script>" not in html and "<img" not in html and "<i>" not in html
    assert "&lt;script&gt;" in html and "a &amp; b" in html
    node = ui_render.node(Invocation("0.1", 'st"ep', handler="<h>", worker="w'1"), "0.1")
    assert "<h>" not in node and 'st&quot;ep' in node and "w&#x27;1" in node
