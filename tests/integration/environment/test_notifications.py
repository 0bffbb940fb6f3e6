"""Notifications end to end: email to a local SMTP server and JSON to
mr_http_notification_listen, on a handler's exception, a request's failure (by a handler, its
deadline or a cancel) and completion, from handler code, and when the handler library
changes."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mr.cluster import wait_for
from tests.integration.environment.conftest import HANDLERS, SHARED


def mail_about(smtp, *words: str) -> dict | None:
    for message in list(smtp.messages):
        if all(word in message["text"] for word in words):
            return message
    return None


def test_handler_exception_and_request_failure_are_mailed_and_posted(cleaned, smtp, listener):
    reply = cleaned.post(cleaned.wf, "escape", {"path": "../nope.txt"})
    assert reply.status_code == 500
    rid = reply.json()["request_id"]
    posted = wait_for(lambda: listener.find("handler_exception", request_id=rid), timeout=20,
                      message="handler_exception at the listener")
    assert posted["details"]["handler"] == "escape"
    assert "PathEscape" in posted["details"]["traceback"]
    assert wait_for(lambda: listener.find("request_failed", request_id=rid), timeout=20,
                    message="request_failed at the listener")
    mail = wait_for(lambda: mail_about(smtp, "[mr handler_exception]", rid), timeout=20,
                    message="handler_exception email")
    assert mail["to"] == ["ops@example.test"] and "PathEscape" in mail["text"]
    assert wait_for(lambda: mail_about(smtp, "[mr request_failed]", rid), timeout=20,
                    message="request_failed email")


def test_request_done_is_posted(cleaned, listener):
    reply = cleaned.post(cleaned.wf, "sess", {"word": "done"})
    assert reply.status_code == 200, reply.text
    posted = wait_for(lambda: listener.find("request_done",
                                            request_id=reply.json()["request_id"]),
                      timeout=20, message="request_done at the listener")
    assert posted["details"]["job"] == "sess" and posted["details"]["workflow"] == cleaned.wf


def test_handler_code_sends_a_custom_notification(cleaned, smtp, listener):
    reply = cleaned.post(cleaned.wf, "notifying", {"tag": "t-42"})
    assert reply.status_code == 200, reply.text
    posted = wait_for(lambda: listener.find("custom", tag="t-42"), timeout=20,
                      message="custom notification at the listener")
    assert posted["subject"] == "custom note t-42" and posted["details"]["handler"] == "notifying"
    assert wait_for(lambda: mail_about(smtp, "[mr custom] custom note t-42"), timeout=20,
                    message="custom email")


@pytest.mark.parametrize("flag", ["--force-update"])
def test_library_update_is_announced_once(cleaned, listener, flag):
    before = len([m for m in listener.received if m["event"] == "library_updated"])
    synced = cleaned.sync(cleaned.wf, HANDLERS, flag, shared=SHARED)
    assert synced.returncode == 0, synced.stderr
    posted = wait_for(lambda: [m for m in listener.received if m["event"] == "library_updated"
                               ][before:], timeout=20, message="library_updated")
    assert len(posted) == 1 and posted[0]["details"]["workflow"] == cleaned.wf
    assert "escape" in posted[0]["details"]["updated"]


def failed_notice(listener, rid: str, reason: str) -> dict:
    return wait_for(lambda: listener.find("request_failed", request_id=rid, reason=reason),
                    timeout=30, message=f"request_failed ({reason}) of {rid} at the listener")


def test_deadline_of_a_blocking_request_is_posted(cleaned, listener):
    reply = cleaned.post(cleaned.wf, "sleepy_1s", {"seconds": 5})
    assert reply.status_code == 504, reply.text
    posted = failed_notice(listener, reply.json()["request_id"], "timeout")
    assert posted["details"]["job"] == "sleepy_1s"
    assert "timed out after 1s" in posted["subject"]


def test_deadline_of_a_non_blocking_request_is_posted_by_the_sweeper(cleaned, listener):
    reply = cleaned.post(cleaned.wf, "sleepy_1s", {"seconds": 5}, blocking=False)
    assert reply.status_code == 202, reply.text
    # nobody waits on it: a worker's sweeper fails it (every MR_SWEEP_INTERVAL_S, 5 s)
    posted = failed_notice(listener, reply.json()["request_id"], "timeout")
    assert posted["details"]["job"] == "sleepy_1s"


def test_cancels_are_posted_by_the_front_end_and_by_the_script(cleaned, listener):
    by_http, by_script = (cleaned.post(cleaned.wf, "sleepy", {"seconds": 5},
                                       blocking=False).json()["request_id"] for _ in range(2))
    cancelled = requests.delete(f"{cleaned.web.url}/request/{cleaned.wf}/{by_http}",
                                timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    script = Path(sys.executable).parent / "mr_request_cancel"
    ran = subprocess.run([str(script), cleaned.wf, by_script], env={**os.environ, **cleaned.env},
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "via" in failed_notice(listener, by_http, "cancelled")["details"]["message"]
    posted = failed_notice(listener, by_script, "cancelled")
    assert posted["details"]["message"].startswith("cancelled by mr_request_cancel on ")


def test_a_request_that_cannot_be_queued_is_posted(cleaned, listener):
    """The broker is down: the POST is a 503 and the request's failure is notified."""
    cleaned.broker.stop()
    try:
        reply = cleaned.post(cleaned.wf, "sess", {"word": "unqueued"})
        assert reply.status_code == 503, reply.text
        posted = failed_notice(listener, reply.json()["request_id"], "queue")
        assert "could not queue the request" in posted["details"]["message"]
    finally:
        cleaned.broker.start()
    reply = cleaned.post(cleaned.wf, "sess", {"word": "queued"})
    assert reply.status_code == 200, reply.text
