"""What a tracker's user watches, in headless Chromium: an ETA from the request's expected
duration before anything finishes, the handler's live status message, and a paused request
said to be paused; a screenshot of that page in the test's directory (and in docs/screenshots/
with MR_UPDATE_SCREENSHOTS=1)."""
from __future__ import annotations

import re
from pathlib import Path

import requests

from mr.cluster import wait_for
from tests.integration.ui.test_browser import attr, open_page, screenshot, text


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
