"""What a tracker's user watches, in headless Chromium: an ETA from the request's expected
duration before anything finishes, the handler's live status message, and a paused request
said to be paused; a screenshot of that page in the test's directory (and in docs/screenshots/
with MR_UPDATE_SCREENSHOTS=1)."""
from __future__ import annotations

import re
from pathlib import Path

import requests

from mr.cluster import wait_for
from tests.integration.ui.test_browser import attr, click, open_page, screenshot, text


def test_eta_status_and_pause_are_shown_live(engine, browser, tmp_path):
    posted = requests.post(f"{engine.web.url}/job/{engine.wf}/chatty",
                           params={"blocking": "false"},
                           json={"arguments": {}, "expected_s": 600}, timeout=30)
    assert posted.status_code == 202, posted.text
    rid = posted.json()["request_id"]
    api = f"{engine.web.url}/request/{engine.wf}/{rid}"
    try:
        open_page(browser, engine, f"/ui/{engine.wf}/request/{rid}")
        wait_for(lambda: "attempt 1: waiting for release" in text(browser, "#progress ul.status"),
                 timeout=30, message="the handler's status message shown")
        stats = text(browser, "#progress p.stats")
        assert "0 done" in stats, stats
        eta = re.search(r"ETA (\S+)", stats)
        assert eta and eta.group(1) != "-", stats     # from expected_s, nothing done yet

        assert requests.post(f"{api}/pause", timeout=30).status_code == 200
        wait_for(lambda: attr(browser, "#progress .progress", "data-state") == "paused",
                 timeout=30, message="the page showing the request paused")
        assert "paused" in text(browser, "#progress p.stats")
        screenshot(browser, tmp_path, "tracking.png")

        assert requests.post(f"{api}/resume", timeout=30).status_code == 200
        wait_for(lambda: attr(browser, "#progress .progress", "data-state") == "running",
                 timeout=30, message="the page showing it running again")
    finally:
        release = Path(engine.env["MR_DATA_DIR"]) / f"release-{rid}"
        release.parent.mkdir(parents=True, exist_ok=True)
        release.touch()
    assert engine.wait_ended(engine.wf, rid)["state"] == "done"
    wait_for(lambda: "attempt 1: done" in text(browser, "#progress ul.status"), timeout=30,
             message="the final status message shown")


def test_rerun_from_the_invocation_panel_gives_a_new_result(engine, browser):
    done = engine.post(engine.wf, "fan", {"mids": 2, "n": 2})
    assert done.status_code == 200, done.text
    rid = done.json()["request_id"]
    (Path(engine.env["MR_DATA_DIR"]) / f"bonus-{rid}").write_text("7")
    open_page(browser, engine, f"/ui/{engine.wf}/request/{rid}", "ended")
    click(browser, 'li[data-iid="0.1"] > .row a.label')
    wait_for(lambda: attr(browser, "#rerun", "data-iid") == "0.1", timeout=10,
             message="the re-run button of 0.1")
    click(browser, "#rerun")
    # the button's note may be replaced by the summary's live update at once: ask etcd
    wait_for(lambda: requests.get(f"{engine.web.url}/request/{engine.wf}/{rid}",
                                  timeout=10).json()["retries"] == 1,
             timeout=30, message="the request running again")
    body = engine.wait_ended(engine.wf, rid)
    squares = sum(i * i for i in (0, 1, 100, 101))
    assert body["state"] == "done" and body["result"] == [["total", squares + 2 * 7]], body
    wait_for(lambda: attr(browser, "#summary dl.facts", "data-state") == "done", timeout=30,
             message="the page showing it done again")
