"""ctx.logger writes into the invocation's log; ctx.notify sends a "custom" notification;
ctx.tally adds up, refuses what is not a name and an int, and goes onto the record."""
import pytest

from mr.engine import tallies
from mr.engine.context import MAX_TALLIES, Context, InvocationLog
from mr.kv.codec import pack
from mr.kv.entry import Entry
from mr.kv.models import DONE, FAILED, WAITING, Invocation
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


def test_tallies_add_up_and_go_onto_the_record():
    ctx = make()
    ctx.tally("lines")
    ctx.tally("lines", 4)
    ctx.tally("bad", -1)
    ctx.log.add_tallies({"lines": 2, "from_child": 7})
    inv = Invocation("0.1", "s")
    ctx.log.keep_in(inv)
    assert inv.tallies == {"lines": 7, "bad": -1, "from_child": 7}
    empty = Invocation("0.2", "s")
    InvocationLog().keep_in(empty)
    assert empty.tallies is None


@pytest.mark.parametrize("name, n, error, says", [
    ("", 1, ValueError, "a string of 1-100 characters"),
    ("x" * 101, 1, ValueError, "a string of 1-100 characters"),
    (3, 1, ValueError, "not 3"),
    ("rows", 1.5, TypeError, "adds an int, not float"),
    ("rows", True, TypeError, "adds an int, not bool"),
    ("mr.input_bytes", 1, ValueError, "the engine's own"),
])
def test_a_tally_takes_a_name_and_an_int(name, n, error, says):
    with pytest.raises(error, match=says):
        make().tally(name, n)


def test_a_run_tallies_a_bounded_number_of_names():
    ctx = make()
    for index in range(MAX_TALLIES):
        ctx.tally(f"kind{index}")
    ctx.tally("kind0")   # a name it has is always taken
    with pytest.raises(ValueError, match="by kinds of things"):
        ctx.tally("one more")
    ctx.log.tally("mr.input_bytes", 5)   # the engine's counters come on top, and do not
    assert ctx.log.tallies["mr.input_bytes"] == 5   # make room for a handler's 101st name
    with pytest.raises(ValueError, match="by kinds of things"):
        ctx.tally("one more")


def test_the_request_sums_each_committed_run_once():
    prefix = "/t/"
    read = [Entry(prefix + "0.1", pack({"rows": 2}), 1, 1, 1),
            Entry(prefix + "0.2", pack({"rows": 3, "bad": 1}), 1, 1, 1)]
    again = Invocation("0.2", "s", state=DONE, tallies={"rows": 3, "bad": 1})
    parent = Invocation("0", "s", state=WAITING, tallies={"files": 2})
    failed = Invocation("0.3", "s", state=FAILED, tallies={"rows": 100})
    assert tallies.total(read, prefix, [again, parent, failed]) == {"bad": 1, "files": 2,
                                                                   "rows": 5}
    assert tallies.total([], prefix) is None
    assert [op.request_put.key for op in tallies.puts("wf", "r", [again, parent, failed])] == [
        b"/mr/w/wf/r/r/tally/0.2", b"/mr/w/wf/r/r/tally/0"]
