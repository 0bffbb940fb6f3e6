"""The publisher against a real mr_broker: a few shared connections, nothing lost, failover."""
import itertools
import subprocess
import sys
import threading
import urllib.request

import pytest

from mr.cluster import free_port
from mr.queue.publisher import POOL_SIZE, Publisher, PublishError
from tests.broker.nsq_client import NsqLoop
from tests.support.broker import running_broker, start_broker

_names = itertools.count()


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with running_broker(tmp_path_factory.mktemp("publisher")) as server:
        yield server


@pytest.fixture
def topic(broker):
    """A fresh topic with a channel, so every message published to it is kept for reading."""
    name = f"pub{next(_names)}"
    for path in (f"/topic/create?topic={name}", f"/channel/create?topic={name}&channel=check"):
        request = urllib.request.Request(broker.url(path), method="POST")
        urllib.request.urlopen(request, timeout=5).close()
    return name


def received(broker, topic: str, expected: int) -> list[bytes]:
    """Every message of the topic's channel, read until `expected` came (or a deadline)."""
    bodies: list[bytes] = []
    loop = NsqLoop()
    try:
        loop.reader(broker, topic, "check", lambda m: bodies.append(m.body) or True,
                    max_in_flight=200)
        loop.run_until(lambda: len(bodies) >= expected, timeout=30,
                       message=f"{expected} messages on {topic}")
    finally:
        loop.close()
    return bodies


def test_threads_share_a_few_connections(broker, topic):
    threads, each = 32, 20
    publisher = Publisher([broker.http_address])
    all_published = threading.Barrier(threads + 1, timeout=60)
    release = threading.Event()
    errors = []

    def run(index: int) -> None:
        try:
            for n in range(0, each, 2):  # single and batched publishes, interleaved
                publisher.publish(topic, b"t%d-%d" % (index, n))
                publisher.publish_many(topic, [b"t%d-%d" % (index, n + 1)])
        except Exception as exc:  # reported below; the barrier still has to be reached
            errors.append(exc)
        all_published.wait()
        release.wait(60)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    all_published.wait()
    # Every publishing thread is alive: a connection per thread would show 32 here.
    open_connections = broker.http_connections()
    release.set()
    for worker in workers:
        worker.join(30)
    assert not errors
    assert 1 <= open_connections <= POOL_SIZE
    bodies = received(broker, topic, threads * each)
    assert sorted(bodies) == sorted(b"t%d-%d" % (i, n) for i in range(threads)
                                    for n in range(each))
    publisher.close()


def test_greenlets_share_a_few_connections(broker, topic):
    greenlets, each, pool = 300, 4, 3
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.queue.gevent_publishers", "--http",
         broker.http_address, "--topic", topic, "--greenlets", str(greenlets), "--messages",
         str(each), "--pool-size", str(pool)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line == f"published {greenlets * each}\n", proc.stderr.read()
        # Every greenlet is alive and has published; the process holds at most `pool` sockets.
        open_connections = broker.http_connections()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert 1 <= open_connections <= pool
    bodies = received(broker, topic, greenlets * each)
    assert sorted(bodies) == sorted(b"g%d-%d" % (i, n) for i in range(greenlets)
                                    for n in range(each))


def test_reconnects_after_a_broker_restart(tmp_path):
    first = start_broker(tmp_path)
    publisher = Publisher([first.http_address], timeout=2)
    publisher.publish("restarts", b"before")
    first.stop()
    with pytest.raises(PublishError, match="no NSQ broker reachable"):
        publisher.publish("restarts", b"while down")
    again = start_broker(tmp_path, ports=(first.tcp_port, first.http_port))
    try:
        publisher.publish("restarts", b"after")  # the pooled connection was dropped
        publisher.publish_many("restarts", [b"one", b"two"])
    finally:
        again.stop()


def test_fails_over_to_the_next_broker(broker, topic):
    dead = f"127.0.0.1:{free_port()}"
    publisher = Publisher([dead, broker.http_address], timeout=2)
    publisher.publish(topic, b"first")
    publisher.publish_many(topic, [b"second", b"third"])
    assert sorted(received(broker, topic, 3)) == [b"first", b"second", b"third"]


def test_a_refusal_is_not_retried_elsewhere(broker):
    publisher = Publisher([broker.http_address, f"127.0.0.1:{free_port()}"])
    with pytest.raises(PublishError, match="refused /pub: 400 .*INVALID_TOPIC"):
        publisher.publish("bad topic!", b"x")


def test_pool_size_must_be_positive():
    with pytest.raises(ValueError, match="pool_size must be at least 1"):
        Publisher(["127.0.0.1:4151"], pool_size=0)
