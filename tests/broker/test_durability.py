"""--data-path: a SIGTERM mid-stream loses nothing; a crash loses nothing that reached disk."""
import threading

import requests

from mr.cluster import wait_for
from tests.broker.wire import Wire
from tests.support.broker import start_broker


class Publisher(threading.Thread):
    """Publishes numbered messages until the broker goes away; records what was acknowledged."""

    def __init__(self, broker, topic):
        super().__init__(daemon=True)
        self.wire = Wire(broker)
        self.topic = topic.encode()
        self.acked: list[bytes] = []

    def run(self):
        try:
            for i in range(1_000_000):
                body = b"m%d" % i
                if self.wire.call(b"PUB " + self.topic, body) != (0, b"OK"):
                    return
                self.acked.append(body)
        except OSError:
            return


class Consumer(threading.Thread):
    """FINs nine messages in ten and leaves the tenth in flight, until disconnected."""

    def __init__(self, broker, topic):
        super().__init__(daemon=True)
        self.wire = Wire(broker)
        self.wire.subscribe(topic, "ch", rdy=100)
        self.received: list[bytes] = []

    def run(self):
        try:
            while True:
                _, _, msg_id, body = self.wire.message()
                self.received.append(body)
                if len(self.received) % 10:
                    self.wire.send(b"FIN " + msg_id)
        except (OSError, AssertionError):
            return


def drain(broker, topic, expected: set, received: list) -> None:
    client = Wire(broker)
    client.subscribe(topic, "ch", rdy=500)

    def all_received():
        while not expected <= set(received):
            _, _, msg_id, body = client.message()
            received.append(body)
            client.send(b"FIN " + msg_id)
        return True
    wait_for(all_received, timeout=30, message="every acknowledged message")
    client.close()


def test_sigterm_mid_stream_loses_nothing(tmp_path, topic):
    data = tmp_path / "data"
    flags = ("--data-path", str(data), "--mem-queue-size", "50")
    broker = start_broker(tmp_path, *flags)
    publisher = Publisher(broker, topic)
    publisher.start()
    wait_for(lambda: len(publisher.acked) >= 200, message="first messages")
    consumer = Consumer(broker, topic)
    consumer.start()
    assert Wire(broker).call(b"DPUB " + topic.encode() + b" 3600000", b"deferred") == (0, b"OK")
    wait_for(lambda: len(publisher.acked) >= 1500 and len(consumer.received) >= 300,
             message="traffic in both directions")
    assert broker.stop() == 0
    publisher.join(10)
    consumer.join(10)

    restarted = start_broker(tmp_path, *flags)
    received = list(consumer.received)
    # In-flight, queued (memory and disk) and deferred messages all come back.
    drain(restarted, topic, set(publisher.acked) | {b"deferred"}, received)
    assert set(publisher.acked) <= set(received)
    restarted.stop()


def test_crash_keeps_what_reached_disk(tmp_path, topic):
    data = tmp_path / "data"
    flags = ("--data-path", str(data), "--mem-queue-size", "0")
    broker = start_broker(tmp_path, *flags)
    requests.post(broker.url("/topic/create"), params={"topic": topic}, timeout=5)
    requests.post(broker.url("/channel/create"), params={"topic": topic, "channel": "ch"},
                  timeout=5)
    client = Wire(broker)
    bodies = [b"c%d" % i for i in range(500)]
    for start in range(0, 500, 100):
        assert client.mpub(topic, bodies[start:start + 100]) == (0, b"OK")
    assert broker.kill() != 0  # SIGKILL: no shutdown work at all

    restarted = start_broker(tmp_path, *flags)
    received: list[bytes] = []
    drain(restarted, topic, set(bodies), received)
    assert received[:500] == bodies  # first in, first out, from the log
    restarted.stop()


def test_restart_keeps_topics_channels_and_pauses(tmp_path, topic):
    flags = ("--data-path", str(tmp_path / "data"))
    broker = start_broker(tmp_path, *flags)
    requests.post(broker.url("/topic/create"), params={"topic": topic}, timeout=5)
    requests.post(broker.url("/channel/create"), params={"topic": topic, "channel": "ch"},
                  timeout=5)
    requests.post(broker.url("/channel/pause"), params={"topic": topic, "channel": "ch"},
                  timeout=5)
    requests.post(broker.url("/topic/pause"), params={"topic": topic}, timeout=5)
    requests.post(broker.url("/pub"), params={"topic": topic}, data=b"held", timeout=5)
    broker.stop()
    restarted = start_broker(tmp_path, *flags)
    stats = requests.get(restarted.url("/stats"), params={"format": "json"}, timeout=5).json()
    (entry,) = [t for t in stats["topics"] if t["topic_name"] == topic]
    assert [(c["channel_name"], c["paused"]) for c in entry["channels"]] == [("ch", True)]
    assert entry["paused"] and entry["depth"] == 1 and entry["channels"][0]["depth"] == 0
    restarted.stop()
