"""pynsq's own Reader and Writer against a real mr_broker process."""
import time

import pytest

from tests.broker.nsq_client import NsqLoop, channel_stats


@pytest.fixture
def nsq_loop():
    loop = NsqLoop()
    yield loop
    loop.close()


def _collector(received, finish=True):
    def handler(message):
        received.append((message.body, message.attempts, time.monotonic()))
        return finish
    return handler


def _settled(broker, topic, channel):
    """The channel has nothing queued or in flight (every FIN reached the broker)."""
    stats = channel_stats(broker, topic, channel)
    return stats if stats and stats["depth"] == 0 and stats["in_flight_count"] == 0 else None


def test_publish_consume_finish(broker, topic, nsq_loop):
    writer = nsq_loop.writer(broker)
    for i in range(20):
        nsq_loop.publish(writer, "pub", topic, b"m%d" % i)
    received = []
    nsq_loop.reader(broker, topic, "ch", _collector(received))
    nsq_loop.run_until(lambda: len(received) == 20, message="20 messages")
    assert sorted(body for body, _, _ in received) == sorted(b"m%d" % i for i in range(20))
    assert all(attempts == 1 for _, attempts, _ in received)
    stats = nsq_loop.run_until(lambda: _settled(broker, topic, "ch"), message="all FINs")
    assert stats["message_count"] == 20 and stats["requeue_count"] == 0


def test_mpub(broker, topic, nsq_loop):
    writer = nsq_loop.writer(broker)
    bodies = [b"batch-%d" % i for i in range(100)]
    nsq_loop.publish(writer, "mpub", topic, bodies)
    received = []
    nsq_loop.reader(broker, topic, "ch", _collector(received), max_in_flight=50)
    nsq_loop.run_until(lambda: len(received) == 100, message="100 messages")
    assert [body for body, _, _ in received] == bodies  # one consumer: publication order


def test_deferred_publish(broker, topic, nsq_loop):
    received = []
    nsq_loop.reader(broker, topic, "ch", _collector(received))
    nsq_loop.run_until(lambda: (channel_stats(broker, topic, "ch") or {}).get("client_count"),
                       message="reader subscribed")
    writer = nsq_loop.writer(broker)
    published = time.monotonic()
    nsq_loop.publish(writer, "dpub", topic, 700, b"later")
    nsq_loop.publish(writer, "pub", topic, b"now")
    nsq_loop.run_until(lambda: len(received) == 2, message="both messages")
    by_body = {body: at for body, _, at in received}
    assert by_body[b"now"] < by_body[b"later"]
    assert by_body[b"later"] - published >= 0.65


def test_requeue_with_delay(broker, topic, nsq_loop):
    received = []

    def handler(message):
        received.append((message.attempts, time.monotonic()))
        if message.attempts == 1:
            message.enable_async()
            message.requeue(time_ms=600, backoff=False)
        return True

    writer = nsq_loop.writer(broker)
    nsq_loop.publish(writer, "pub", topic, b"again")
    nsq_loop.reader(broker, topic, "ch", handler)
    nsq_loop.run_until(lambda: len(received) == 2, message="redelivery")
    (first, t1), (second, t2) = received
    assert (first, second) == (1, 2)
    assert t2 - t1 >= 0.55
    stats = nsq_loop.run_until(lambda: _settled(broker, topic, "ch"), message="settled")
    assert stats["requeue_count"] == 1


def test_backoff(broker, topic, nsq_loop):
    """A failing handler makes the Reader back off (RDY 0), then retry with RDY 1."""
    attempts = []

    def handler(message):
        attempts.append(message.attempts)
        return message.attempts > 1  # fail the first attempt: requeue with backoff

    writer = nsq_loop.writer(broker)
    nsq_loop.publish(writer, "pub", topic, b"flaky")
    reader = nsq_loop.reader(broker, topic, "ch", handler, max_backoff_duration=1)
    nsq_loop.run_until(lambda: attempts == [1] and reader.backoff_timer.get_interval() > 0,
                       message="reader in backoff")
    nsq_loop.run_until(lambda: attempts == [1, 2], message="retry after backoff")
    nsq_loop.run_until(lambda: reader.backoff_timer.get_interval() == 0, message="backoff over")
    stats = nsq_loop.run_until(lambda: _settled(broker, topic, "ch"), message="settled")
    assert stats["requeue_count"] == 1


def test_touch_keeps_message(broker, topic, nsq_loop):
    held = []

    def handler(message):
        message.enable_async()
        held.append(message)

    writer = nsq_loop.writer(broker)
    nsq_loop.publish(writer, "pub", topic, b"slow")
    nsq_loop.reader(broker, topic, "ch", handler, msg_timeout=1)
    nsq_loop.run_until(lambda: held, message="delivery")
    # Hold the message three times its 1 s timeout, touching it twice a second.
    until = time.monotonic() + 3.0
    next_touch = [time.monotonic()]

    def touching():
        now = time.monotonic()
        if now >= next_touch[0]:
            held[0].touch()
            next_touch[0] = now + 0.5
        return now >= until
    nsq_loop.run_until(touching, message="three seconds of touches")
    held[0].finish()
    stats = nsq_loop.run_until(lambda: _settled(broker, topic, "ch"), message="settled")
    assert len(held) == 1 and stats["timeout_count"] == 0


def test_timeout_redelivers(broker, topic, nsq_loop):
    received = []

    def handler(message):
        received.append(message.attempts)
        if message.attempts == 1:
            message.enable_async()  # never answered: the broker must time it out
            return None
        return True

    writer = nsq_loop.writer(broker)
    nsq_loop.publish(writer, "pub", topic, b"lost")
    nsq_loop.reader(broker, topic, "ch", handler, msg_timeout=1)
    nsq_loop.run_until(lambda: received == [1, 2], timeout=10, message="redelivery")
    stats = nsq_loop.run_until(lambda: _settled(broker, topic, "ch"), message="settled")
    assert stats["timeout_count"] == 1


def test_every_channel_gets_every_message(broker, topic, nsq_loop):
    got = {"a": [], "b": []}
    for name in got:
        nsq_loop.reader(broker, topic, name, _collector(got[name]))
    nsq_loop.run_until(lambda: all(channel_stats(broker, topic, n) for n in got),
                       message="both channels")
    writer = nsq_loop.writer(broker)
    bodies = [b"x%d" % i for i in range(30)]
    nsq_loop.publish(writer, "mpub", topic, bodies)
    nsq_loop.run_until(lambda: all(len(v) == 30 for v in got.values()), message="both copies")
    for received in got.values():
        assert sorted(b for b, _, _ in received) == sorted(bodies)


def test_readers_share_a_channel(broker, topic, nsq_loop):
    first, second = [], []
    nsq_loop.reader(broker, topic, "shared", _collector(first), max_in_flight=1)
    nsq_loop.reader(broker, topic, "shared", _collector(second), max_in_flight=1)
    nsq_loop.run_until(
        lambda: (channel_stats(broker, topic, "shared") or {}).get("client_count") == 2,
        message="two readers")
    writer = nsq_loop.writer(broker)
    bodies = [b"s%d" % i for i in range(60)]
    nsq_loop.publish(writer, "mpub", topic, bodies)
    nsq_loop.run_until(lambda: len(first) + len(second) == 60, message="all messages")
    assert first and second
    assert sorted(b for b, _, _ in first + second) == sorted(bodies)  # each exactly once
