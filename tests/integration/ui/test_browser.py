"""The web view in a real headless Chromium: live overview, failed invocations with their
traceback, a progress bar that moves, retry from the page.

Screenshots of the overview and of a request page are written to the test's directory, and to
docs/screenshots/ (what README shows) when MR_UPDATE_SCREENSHOTS=1.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import requests

from mr.cluster import wait_for
from tests.integration.tracking.test_tracking import LEAF_RAISE_LINE
from tests.support.cluster import REPO

SCREENSHOTS = REPO / "docs" / "screenshots"


CSS = "css selector"  # selenium's locator (not imported here: the fixture says what is missing)


def open_page(browser, engine, path: str, stream: str = "open") -> None:
    """Load a page and wait for its event stream to be open (or, for a request that has
    ended, to have said so and closed: stream="ended")."""
    browser.get(f"{engine.web.url}{path}")
    wait_for(lambda: js(browser, "return document.body.dataset.stream") == stream,
             timeout=20, message=f"live updates on {path} {stream}")


def js(browser, script: str):
    return browser.execute_script(script)


def attr(browser, selector: str, name: str) -> str | None:
    """An attribute read in one step (live updates replace elements between two steps)."""
    return browser.execute_script(
        "const el = document.querySelector(arguments[0]);"
        "return el ? el.getAttribute(arguments[1]) : null;", selector, name)


def text(browser, selector: str) -> str:
    return browser.execute_script(
        "const el = document.querySelector(arguments[0]); return el ? el.innerText : '';",
        selector)


def click(browser, selector: str) -> None:
    assert browser.execute_script(
        "const el = document.querySelector(arguments[0]); if (el) el.click(); return !!el;",
        selector), f"nothing to click at {selector}"


def submit(engine, arguments: dict) -> str:
    reply = engine.post(engine.wf, "fan", arguments, blocking=False)
    assert reply.status_code == 202, reply.text
    return reply.json()["request_id"]


def failed_request(engine, arguments: dict) -> str:
    reply = engine.post(engine.wf, "fan", arguments)
    assert reply.status_code == 500, reply.text
    return reply.json()["request_id"]


def screenshot(browser, tmp_path: Path, name: str) -> None:
    """The whole page (up to 2,400 pixels high)."""
    target = tmp_path / name
    width, height = browser.get_window_size()["width"], browser.get_window_size()["height"]
    browser.set_window_size(width, min(max(js(browser, "return document.body.scrollHeight"),
                                           height), 2400))
    try:
        assert browser.save_screenshot(str(target)), f"no screenshot {name}"
    finally:
        browser.set_window_size(width, height)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 10_000
    if os.environ.get("MR_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, SCREENSHOTS / name)


def test_overview_lists_a_request_submitted_over_http_without_a_reload(engine, browser,
                                                                       tmp_path):
    open_page(browser, engine, f"/ui/{engine.wf}/")
    js(browser, "window.notReloaded = true")
    rid = submit(engine, {"mids": 2, "n": 6, "sleep": 0.2})

    row = f'tr[data-rid="{rid}"]'
    wait_for(lambda: attr(browser, row, "data-state"), timeout=20,
             message="the new request's row")
    wait_for(lambda: attr(browser, row, "data-state") == "done", timeout=60,
             message="its row turning done")
    assert js(browser, "return window.notReloaded") is True
    cells = text(browser, row)
    assert "fan" in cells and "done" in cells and "100%" in cells
    counts = text(browser, "#counts")
    assert "done" in counts and "running" in counts
    workers = browser.find_elements(CSS, "#workers tr[data-worker]")
    assert len(workers) == 2 and "general" in workers[0].text
    assert browser.find_elements(CSS, f'#queues tr[data-topic="mr.{engine.wf}.'
                                                  f'general"]')


def test_request_page_marks_the_failed_invocation_with_its_traceback(engine, browser,
                                                                     tmp_path):
    # the leaves take a moment, so that 0.0 has fanned out before 0.1.3 fails the request
    rid = failed_request(engine, {"mids": 2, "n": 5, "fail_at": 103, "sleep": 0.2})
    open_page(browser, engine, f"/ui/{engine.wf}/request/{rid}", "ended")

    # the path down to the failed leaf 0.1.3 is open, and each level says a failure is below
    failed = 'li[data-iid="0.1.3"]'
    assert "failed-here" in attr(browser, failed, "class")
    assert "FAILED" in text(browser, failed) and "track_leaf" in text(browser, failed)
    for above in ("0", "0.1"):
        assert "failed-below" in attr(browser, f'li[data-iid="{above}"]', "class")
    traceback = text(browser, "#failure pre.traceback")
    assert "RuntimeError: leaf 103 is broken" in traceback
    assert f'track_leaf.py", line {LEAF_RAISE_LINE}' in traceback
    assert "leaf 103 starts" in text(browser, "#failure pre.log")

    # the failed invocation's own record and log, from a click on it
    click(browser, f"{failed} > .row a.label")
    wait_for(lambda: "leaf 103 starts" in text(browser, "#detail"), timeout=10,
             message="the invocation's log in the side panel")
    assert "RuntimeError" in text(browser, "#detail")

    # a collapsed node opens on click and loads its children
    click(browser, 'li[data-iid="0.0"] > .row .toggle')
    served = requests.get(f"{engine.web.url}/ui/{engine.wf}/request/{rid}/children",
                          params={"of": "0.0"}, timeout=10).text.count("<li ")
    assert served >= 5  # its leaves (and its reduction, if it was queued before the failure)
    wait_for(lambda: js(browser, "return document.querySelectorAll("
                                 "'li[data-iid=\"0.0\"] li[data-iid]').length") == served,
             timeout=10, message="0.0's children shown")
    graph_drawn(browser)
    screenshot(browser, tmp_path, "request.png")


def graph_drawn(browser) -> None:
    """Wait for the drawing; if it never comes, say what the image and its URL were doing.

    It loads lazily, once scrolled near, so it is scrolled to as a reader reaching it would.
    """
    js(browser, "document.getElementById('graph').scrollIntoView()")
    try:
        wait_for(lambda: js(browser, "const g = document.getElementById('graph');"
                                     "return g.complete && g.naturalWidth > 0"),
                 timeout=60, message="the graph drawn")
    except TimeoutError:
        image = js(browser, "const g = document.getElementById('graph');"
                            "return {src: g.src, complete: g.complete, width: g.naturalWidth,"
                            " top: g.getBoundingClientRect().top, view: window.innerHeight}")
        answer = requests.get(image["src"], timeout=60)
        raise AssertionError(f"the graph was not drawn within 60 s: image {image}; its URL "
                             f"answers {answer.status_code} {answer.text[:300]!r}") from None


def test_progress_bar_advances_while_a_slow_request_runs(engine, browser):
    rid = submit(engine, {"n": 32, "sleep": 0.5})  # 4 rounds of 8 handler slots
    open_page(browser, engine, f"/ui/{engine.wf}/request/{rid}")
    js(browser, "window.notReloaded = true")
    seen = []

    def finished() -> bool:
        percent = float(attr(browser, "#progress .bar", "data-percent"))
        if not seen or seen[-1] != percent:
            seen.append(percent)
        return percent == 100
    wait_for(finished, timeout=60, interval=0.02, message="the bar reaching 100%")
    between = [p for p in seen if 0 < p < 100]
    assert len(between) >= 2, f"the bar did not move step by step: {seen}"
    assert seen == sorted(seen), f"the bar went back: {seen}"
    assert js(browser, "return window.notReloaded") is True
    wait_for(lambda: attr(browser, "#summary dl.facts", "data-state") == "done", timeout=10,
             message="state done shown")


def test_retry_from_the_page_completes_the_request(engine, browser):
    rid = failed_request(engine, {"n": 3, "fail_at": 1})
    open_page(browser, engine, f"/ui/{engine.wf}/request/{rid}", "ended")
    assert attr(browser, "#retry", "hidden") is None
    (engine.tmp / "data" / f"fixed-{rid}").touch()  # the leaf stops failing
    click(browser, "#retry")

    wait_for(lambda: attr(browser, "#summary dl.facts", "data-state") == "done", timeout=60,
             message="state done shown")
    # the progress panel gets its last update on its own stream, maybe just after the summary
    wait_for(lambda: attr(browser, "#progress .bar", "data-percent") == "100", timeout=30,
             message="progress at 100%")
    assert attr(browser, "#retry", "hidden") is not None
    assert text(browser, "#failure") == ""
    wait_for(lambda: attr(browser, 'li[data-iid="0.1"]', "data-state") == "done", timeout=20,
             message="leaf 0.1 shown done")
    body = requests.get(f"{engine.web.url}/request/{engine.wf}/{rid}", timeout=10).json()
    assert body["state"] == "done" and body["retries"] == 1
    assert body["result"] == [["total", 0 + 1 + 4]]


def test_screenshot_of_the_overview_while_a_request_runs(engine, browser, tmp_path):
    """Last, so the overview holds the requests of the tests above (done, failed, retried)."""
    open_page(browser, engine, f"/ui/{engine.wf}/")
    rid = submit(engine, {"mids": 4, "n": 10, "sleep": 0.3})
    row = f'tr[data-rid="{rid}"]'
    wait_for(lambda: 20 <= float(attr(browser, f"{row} .bar", "data-percent") or 0) < 100,
             timeout=60, interval=0.02, message="the running request part-way")
    assert attr(browser, row, "data-state") == "running"
    screenshot(browser, tmp_path, "overview.png")
    engine.wait_ended(engine.wf, rid)
