"""In headless Chromium: a running handler's log in the invocation panel before it ends, and a
done request whose etcd records are gone shown whole from its trace document (tree, record,
graph), with a screenshot of that page in the test's directory."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from mr import examples
from mr.cluster import wait_for
from mr.fs import LocalFS, traces
from mr.kv import keys
from tests.integration.ui.test_browser import attr, click, js, open_page, screenshot, text
from tests.support.cluster import REPO, start_cluster, unique


@pytest.fixture(scope="module")
def kept(etcd, tmp_path_factory):
    """Workers that clean a done request's records up and keep its trace document."""
    wf = unique("uitrace")
    engine = start_cluster(tmp_path_factory.mktemp("uitrace"), etcd.address, [wf],
                           extra_env={"MR_TRACE_RETENTION_S": "600"})
    try:
        examples.define(engine.kv, REPO / "handlers", workflow=wf)
        engine.start_workers(1)
        engine.start_web()
        engine.wf = wf
        yield engine
    finally:
        engine.stop()


def test_a_running_handlers_log_shows_in_the_invocation_panel(engine, browser):
    posted = requests.post(f"{engine.web.url}/job/{engine.wf}/chatty",
                           params={"blocking": "false"}, json={"arguments": {}}, timeout=30)
    rid = posted.json()["request_id"]
    try:
        open_page(browser, engine, f"/ui/{engine.wf}/request/{rid}")
        wait_for(lambda: attr(browser, 'li[data-iid="0"]', "data-state") == "running",
                 timeout=30, message="the invocation shown running")
        click(browser, 'li[data-iid="0"] > .row a.label')
        wait_for(lambda: "attempt 1 starts" in text(browser, "#detail pre.log"), timeout=30,
                 message="what the running handler printed, in its panel")
    finally:
        release = Path(engine.env["MR_DATA_DIR"]) / f"release-{rid}"
        release.parent.mkdir(parents=True, exist_ok=True)
        release.touch()
    assert engine.wait_ended(engine.wf, rid)["state"] == "done"


def test_a_cleaned_up_request_is_shown_from_its_trace_document(kept, browser, tmp_path):
    posted = kept.post(kept.wf, "squares", {"n": 4})
    assert posted.status_code == 200, posted.text
    rid = posted.json()["request_id"]
    shared = LocalFS(kept.tmp / "data" / "shared" / kept.wf)
    wait_for(lambda: kept.kv.count(keys.invocations(kept.wf, rid)) == 0
             and traces.find(shared, rid) is not None, timeout=30,
             message="the records cleaned up and the trace document written")
    open_page(browser, kept, f"/ui/{kept.wf}/request/{rid}", "ended")
    wait_for(lambda: attr(browser, 'li[data-iid="0"]', "data-state") == "done", timeout=20,
             message="the root shown done from the document")
    click(browser, 'li[data-iid="0"] > .row .toggle')
    wait_for(lambda: attr(browser, 'li[data-iid="0.2"]', "data-state") == "done", timeout=20,
             message="a child shown from the document")
    click(browser, 'li[data-iid="0.2"] > .row a.label')
    wait_for(lambda: "numbers_square" in text(browser, "#detail"), timeout=20,
             message="the child's record in its panel")
    assert attr(browser, "#rerun", "data-iid") is None   # its records are gone: no re-run
    wait_for(lambda: js(browser, "const g = document.getElementById('graph');"
                                 "return !!g && g.complete && g.naturalWidth > 0"),
             timeout=60, message="the graph drawn from the document")
    screenshot(browser, tmp_path, "kept_trace.png")
