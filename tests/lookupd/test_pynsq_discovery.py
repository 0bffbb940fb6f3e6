"""pynsq's Reader finds brokers through mr_lookupd, including one that starts after it."""
from __future__ import annotations

import urllib.request

import nsq
import pytest

from tests.broker.nsq_client import NsqLoop
from tests.lookupd.conftest import start_broker


@pytest.fixture
def nsq_loop():
    loop = NsqLoop()
    yield loop
    loop.close()


def publish(broker, topic: str, bodies: list[bytes]) -> None:
    for body in bodies:
        request = urllib.request.Request(f"http://{broker.http_address}/pub?topic={topic}",
                                         data=body, method="POST")
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert reply.read() == b"OK"


def test_reader_discovers_a_broker_started_after_it(lookupd, tmp_path, topic, nsq_loop):
    received: list[bytes] = []

    def handler(message):
        received.append(message.body)
        return True
    reader = nsq.Reader(topic=topic, channel="ch", message_handler=handler,
                        lookupd_http_addresses=[f"http://{lookupd.http_address}"],
                        lookupd_poll_interval=1, lookupd_poll_jitter=0.0, max_in_flight=10)
    nsq_loop.clients.append(reader)
    first = start_broker(tmp_path, lookupd.address)
    second = None
    try:
        publish(first, topic, [b"first-%d" % i for i in range(5)])
        nsq_loop.run_until(lambda: len(received) == 5, timeout=20,
                           message="messages of the first broker")
        assert list(reader.conns) == [first.address]
        # The reader is subscribed; a second broker appears and gets messages of the topic.
        second = start_broker(tmp_path, lookupd.address)
        publish(second, topic, [b"second-%d" % i for i in range(5)])
        nsq_loop.run_until(lambda: len(received) == 10, timeout=20,
                           message="messages of the broker that came later")
        assert sorted(received) == sorted([b"first-%d" % i for i in range(5)]
                                          + [b"second-%d" % i for i in range(5)])
        assert sorted(reader.conns) == sorted([first.address, second.address])
    finally:
        reader.close()
        for broker in (first, second):
            if broker is not None:
                broker.stop()
