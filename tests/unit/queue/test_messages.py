"""Messages may carry the record of the invocation they name (see mr.queue.messages)."""
import msgpack
import pytest

from mr.queue import messages


def test_a_record_and_its_revision_travel_together():
    msg = messages.decode(messages.encode("wf", "r1", "0.3", 42, b"\x81\xa2id\xa30.3"))
    assert (msg.workflow, msg.request_id, msg.invocation_id) == ("wf", "r1", "0.3")
    assert (msg.revision, msg.record) == (42, b"\x81\xa2id\xa30.3")


@pytest.mark.parametrize("revision, record", [(0, b"rec"), (7, None)])
def test_without_both_no_record_is_carried(revision, record):
    msg = messages.decode(messages.encode("wf", "r1", "0", revision, record))
    assert (msg.revision, msg.record) == (0, None)


def test_records_too_big_for_a_batch_of_messages_are_left_in_etcd():
    big = b"x" * (messages.MAX_RECORD_BYTES + 1)
    assert messages.decode(messages.encode("wf", "r1", "0", 5, big)).record is None
    fits = b"x" * messages.MAX_RECORD_BYTES
    assert messages.decode(messages.encode("wf", "r1", "0", 5, fits)).record == fits


@pytest.mark.parametrize("extra", [{"m": 3, "d": "text"}, {"m": "3", "d": b"rec"},
                                   {"m": 0, "d": b"rec"}, {"m": True, "d": b"rec"},
                                   {"d": b"rec"}])
def test_a_malformed_record_is_refused(extra):
    body = msgpack.packb({"v": 1, "w": "wf", "r": "r", "i": "0", **extra})
    with pytest.raises(messages.BadMessage, match="record"):
        messages.decode(body)
