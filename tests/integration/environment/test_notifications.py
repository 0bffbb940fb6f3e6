"""Notifications end to end: email to a local SMTP server and JSON to
mr_http_notification_listen, on a handler's exception, a request's failure and completion,
from handler code, and when the handler library changes."""
import pytest

from mr.cluster import wait_for
from tests.integration.environment.conftest import HANDLERS


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
    synced = cleaned.sync(cleaned.wf, HANDLERS, flag)
    assert synced.returncode == 0, synced.stderr
    posted = wait_for(lambda: [m for m in listener.received if m["event"] == "library_updated"
                               ][before:], timeout=20, message="library_updated")
    assert len(posted) == 1 and posted[0]["details"]["workflow"] == cleaned.wf
    assert "escape" in posted[0]["details"]["updated"]
