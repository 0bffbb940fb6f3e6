"""ctx.logger writes into the invocation's log; ctx.notify sends a "custom" notification."""
from mr.engine.context import Context, InvocationLog
from mr.notify import Notifier


class Recorder(Notifier):
    def __init__(self):
        super().__init__(events=["custom"])
        self.sent = []

    def notify(self, event, subject, details=None):
        self.sent.append((event, subject, details))


def make(notifier=None) -> Context:
    return Context(workflow="wf", request_id="r", invocation_id="0.1", step="s", handler="h",
                   version="v", attempt=1, session=None, log=InvocationLog(), notifier=notifier)


def test_logger_writes_to_the_invocation_log():
    ctx = make()
    ctx.logger.info("found %d rows", 3)
    ctx.logger.debug("detail")
    try:
        raise KeyError("k")
    except KeyError:
        ctx.logger.exception("lookup failed")
    text = ctx.log.text()
    assert "INFO found 3 rows\n" in text and "DEBUG detail" in text
    assert "ERROR lookup failed" in text and "KeyError: 'k'" in text
    assert ctx.logger is ctx.logger


def test_notify_is_custom_with_identity():
    recorder = Recorder()
    make(recorder).notify("disk almost full", free_gb=3)
    assert recorder.sent == [("custom", "disk almost full", {
        "workflow": "wf", "request_id": "r", "invocation_id": "0.1", "handler": "h",
        "free_gb": 3})]


def test_notify_without_notifier_logs():
    ctx = make()
    ctx.notify("hello %s")
    assert "notification not sent (no notifier): hello %s" in ctx.log.text()
