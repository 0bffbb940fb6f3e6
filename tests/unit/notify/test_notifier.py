"""The notifier: the event filter, settings checks, the message every channel gets, and that
notify() never raises nor waits, whatever the webhook does (real HTTP servers, no doubles)."""
from __future__ import annotations

import datetime
import logging

import pytest

from mr.cluster import free_port, wait_for
from mr.config import load
from mr.notify import EVENTS, Notifier, WebhookChannel
from tests.unit.notify.inbox import Inbox, Stalled


@pytest.fixture
def inbox():
    server = Inbox()
    yield server
    server.close()


@pytest.fixture
def caplog_notify(caplog):
    caplog.set_level(logging.DEBUG, logger="mr.notify")
    return caplog


def messages(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mr.notify" and r.levelno == level]


def test_nothing_configured_only_logs_at_info(caplog_notify):
    notifier = Notifier.from_settings(load({}))
    assert notifier.channels == []
    notifier.notify("handler_exception", "mapper m raised", {"request_id": "r1"})
    assert messages(caplog_notify, logging.INFO) == [
        'notification handler_exception: mapper m raised {"request_id": "r1"}']
    assert notifier.flush(0.1) and notifier.close(0.1)


def test_default_events():
    notifier = Notifier.from_settings(load({}))
    assert {e for e in EVENTS if notifier.enabled(e)} == {
        "handler_exception", "request_failed", "library_updated", "custom"}


def test_event_filter_decides_what_is_sent(inbox, caplog_notify):
    notifier = Notifier.from_settings(load({"MR_NOTIFY_EVENTS": "request_done, custom",
                                            "MR_NOTIFY_WEBHOOK_URLS": inbox.url}))
    assert notifier.enabled("request_done") and notifier.enabled("custom")
    assert not notifier.enabled("handler_exception")
    notifier.notify("handler_exception", "not wanted", {})
    notifier.notify("request_done", "wanted", {})
    notifier.notify("custom", "also wanted")
    assert notifier.flush(10)
    assert [body["subject"] for body in inbox.bodies()] == ["wanted", "also wanted"]
    assert "notification handler_exception (not in MR_NOTIFY_EVENTS): not wanted" in messages(
        caplog_notify, logging.DEBUG)


def test_webhook_message_shape(inbox):
    notifier = Notifier(["request_failed"], [WebhookChannel(inbox.url)], host="box-1")
    details = {"request_id": "r9", "when": datetime.date(2024, 5, 1), "error": KeyError("k"),
               "nested": {"n": [1, 2]}}
    notifier.notify("request_failed", "request r9\nfailed:   badly", details)
    details["request_id"] = "changed after the call"
    assert notifier.flush(10)
    [entry] = inbox.received
    assert entry["content_type"] == "application/json"
    body = entry["body"]
    assert set(body) == {"event", "subject", "details", "host", "time"}
    assert body["event"] == "request_failed" and body["host"] == "box-1"
    assert body["subject"] == "request r9 failed: badly"       # one line for mail headers
    assert body["details"] == {"request_id": "r9", "when": "2024-05-01", "error": "'k'",
                               "nested": {"n": [1, 2]}}
    assert datetime.datetime.fromisoformat(body["time"]).tzinfo is not None


def test_several_webhooks_each_get_it(inbox):
    other = Inbox()
    try:
        notifier = Notifier.from_settings(load({
            "MR_NOTIFY_WEBHOOK_URLS": f"{inbox.url},{other.url}",
            "MR_NOTIFY_EVENTS": "library_updated"}))
        notifier.notify("library_updated", "3 handlers changed", {"added": 1})
        assert notifier.flush(10)
        assert inbox.bodies()[0]["subject"] == other.bodies()[0]["subject"] == \
            "3 handlers changed"
    finally:
        other.close()


def test_unreachable_webhook_never_raises(caplog_notify):
    url = f"http://127.0.0.1:{free_port()}/nobody"
    notifier = Notifier.from_settings(load({"MR_NOTIFY_WEBHOOK_URLS": url}))
    assert notifier.notify("handler_exception", "boom", {"x": 1}) is None
    assert notifier.flush(30)
    [warning] = messages(caplog_notify, logging.WARNING)
    assert f"could not send handler_exception notification 'boom' to webhook {url}" in warning
    assert "gave up after 3 attempts" in warning and "Connection refused" in warning


def test_server_errors_are_retried_client_errors_are_not(caplog_notify):
    flaky, refusing = Inbox(statuses=[503, 500]), Inbox(statuses=[404])
    try:
        notifier = Notifier(["custom"], [WebhookChannel(flaky.url, backoff_s=0.01),
                                         WebhookChannel(refusing.url, backoff_s=0.01)])
        notifier.notify("custom", "hello")
        assert notifier.flush(10)
        assert flaky.attempts == 3 and flaky.bodies()[0]["subject"] == "hello"
        assert refusing.attempts == 1 and refusing.received == []
        [warning] = messages(caplog_notify, logging.WARNING)
        assert f"{refusing.url} answered 404" in warning
    finally:
        flaky.close()
        refusing.close()


def test_a_stalled_webhook_neither_blocks_notify_nor_the_other_channels(inbox):
    stalled = Stalled()
    notifier = Notifier(["custom"], [WebhookChannel(stalled.url, timeout=60, attempts=1),
                                     WebhookChannel(inbox.url)])
    try:
        for n in range(5):
            notifier.notify("custom", f"n{n}")   # returns although one channel hangs
        wait_for(lambda: len(inbox.received) == 5, 10, "the healthy webhook")
        assert not notifier.flush(0.05)          # the stalled one still has work
    finally:
        stalled.close()                          # resets its connection: the send fails
    assert notifier.flush(30)


def test_a_full_queue_drops_and_logs(caplog_notify):
    stalled = Stalled()
    notifier = Notifier(["custom"], [WebhookChannel(stalled.url, timeout=60, attempts=1)],
                        queue_size=2)
    try:
        for n in range(10):
            notifier.notify("custom", f"n{n}")
        dropped = [m for m in messages(caplog_notify, logging.WARNING) if "is full" in m]
        # one message in the sender's hands at most, two waiting: at least seven dropped
        assert len(dropped) >= 7
        assert f"notification queue for webhook {stalled.url} is full (2 waiting)" in dropped[0]
    finally:
        stalled.close()
    assert notifier.flush(30)


def test_notify_never_raises_on_bad_input(caplog_notify):
    notifier = Notifier(["custom"])
    assert notifier.notify("no_such_event", "x") is None
    assert notifier.notify("custom", "x", details=[1, 2, 3]) is None   # not a mapping
    errors = messages(caplog_notify, logging.ERROR)
    assert "notification with unknown event 'no_such_event' dropped" in errors[0]
    assert "notification 'custom' could not be prepared" in errors[1]


def test_after_close_notifications_are_only_logged(inbox, caplog_notify):
    notifier = Notifier(["custom"], [WebhookChannel(inbox.url)])
    notifier.notify("custom", "before")
    assert notifier.close(10)
    notifier.notify("custom", "after")
    assert notifier.flush(1)
    assert inbox.bodies()[0]["subject"] == "before" and len(inbox.received) == 1
    assert any("notifier closed: dropped custom notification 'after'" in m
               for m in messages(caplog_notify, logging.WARNING))


@pytest.mark.parametrize("env, error", [
    ({"MR_NOTIFY_EVENTS": "request_done,oops"}, "MR_NOTIFY_EVENTS: unknown events ['oops']"),
    ({"MR_SMTP_HOST": "mail"}, "MR_SMTP_HOST is set but MR_NOTIFY_EMAIL_TO is empty"),
    ({"MR_NOTIFY_EMAIL_TO": "a@b"}, "MR_NOTIFY_EMAIL_TO is set but MR_SMTP_HOST is empty"),
    ({"MR_NOTIFY_WEBHOOK_URLS": "ftp://x/y"},
     "MR_NOTIFY_WEBHOOK_URLS: webhook URL 'ftp://x/y' must start with http:// or https://"),
])
def test_contradictory_settings_are_clear_errors(env, error):
    with pytest.raises(ValueError) as caught:
        Notifier.from_settings(load(env))
    assert error in str(caught.value)


def test_bad_tls_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="MR_SMTP_TLS='tls' is not valid: use one of none, "
                                         "starttls, ssl"):
        load({"MR_SMTP_TLS": "tls"})


def test_password_stays_out_of_settings_repr():
    assert "hunter2" not in repr(load({"MR_SMTP_PASSWORD": "hunter2"}))
