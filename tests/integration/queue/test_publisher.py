"""The publisher against a real mr_broker, over TCP and over HTTP: a few shared connections,
nothing lost, failover."""
import itertools
import subprocess
import sys
import threading
import urllib.request

import pytest

from mr.cluster import free_port
from mr.queue.publisher import POOL_SIZE, Publisher, PublishError
from tests.broker.nsq_client import NsqLoop
from tests.support.broker import established_to, running_broker, start_broker

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


def connections(broker, tcp: bool) -> int:
    """Open connections to the port the publisher uses."""
    return established_to(broker.tcp_port) if tcp else broker.http_connections()


@pytest.mark.parametrize("tcp", [True, False], ids=["tcp", "http"])
def test_threads_share_a_few_connections(broker, topic, tcp):
    threads, each = 32, 20
    publisher = Publisher([broker.http_address], tcp=tcp)
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
    open_connections = connections(broker, tcp)
    release.set()
    for worker in workers:
        worker.join(30)
    assert not errors
    assert 1 <= open_connections <= POOL_SIZE
    bodies = received(broker, topic, threads * each)
    assert sorted(bodies) == sorted(b"t%d-%d" % (i, n) for i in range(threads)
                                    for n in range(each))
    publisher.close()


@pytest.mark.parametrize("tcp", [True, False], ids=["tcp", "http"])
def test_greenlets_share_a_few_connections(broker, topic, tcp):
    greenlets, each, pool = 300, 4, 3
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.queue.gevent_publishers", "--http",
         broker.http_address, "--topic", topic, "--greenlets", str(greenlets), "--messages",
         str(each), "--pool-size", str(pool), *([] if tcp else ["--no-tcp"])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line == f"published {greenlets * each}\n", proc.stderr.read()
        # Every greenlet is alive and has published; the process holds at most `pool` sockets.
        open_connections = connections(broker, tcp)
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


@pytest.mark.parametrize("tcp", [True, False], ids=["tcp", "http"])
def test_reconnects_after_a_broker_restart(tmp_path, tcp):
    first = start_broker(tmp_path)
    publisher = Publisher([first.http_address], timeout=2, tcp=tcp, retry_s=0)
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


@pytest.mark.parametrize("tcp", [True, False], ids=["tcp", "http"])
def test_a_publish_waits_out_a_broker_restart(tmp_path, tcp):
    """Down for less than retry_s: the publish made meanwhile goes through once it is back;
    down for longer: PublishError (the test above, with retry_s of 0)."""
    first = start_broker(tmp_path)
    publisher = Publisher([first.http_address], timeout=2, tcp=tcp, retry_s=30)
    publisher.publish("restarts", b"before")
    first.stop()
    outcome: list = []
    during = threading.Thread(target=lambda: outcome.append(
        publisher.publish("restarted", b"while it restarts")))
    during.start()
    again = start_broker(tmp_path, ports=(first.tcp_port, first.http_port))
    try:
        during.join(30)
        assert outcome == [None]
        assert received(again, "restarted", 1) == [b"while it restarts"]
    finally:
        again.stop()


@pytest.mark.parametrize("tcp", [True, False], ids=["tcp", "http"])
def test_fails_over_to_the_next_broker(broker, topic, tcp):
    dead = f"127.0.0.1:{free_port()}"
    publisher = Publisher([dead, broker.http_address], timeout=2, tcp=tcp)
    publisher.publish(topic, b"first")
    publisher.publish_many(topic, [b"second", b"third"])
    assert sorted(received(broker, topic, 3)) == [b"first", b"second", b"third"]


@pytest.mark.parametrize("tcp, refusal", [(True, "E_BAD_TOPIC"), (False, "400 .*INVALID_TOPIC")],
                         ids=["tcp", "http"])
def test_a_refusal_is_not_retried_elsewhere(broker, tcp, refusal):
    publisher = Publisher([broker.http_address, f"127.0.0.1:{free_port()}"], tcp=tcp)
    with pytest.raises(PublishError, match=f"refused /pub: {refusal}"):
        publisher.publish("bad_topic!", b"x")
    with pytest.raises(PublishError, match="refused /mpub: "):
        publisher.publish_many("bad_topic!", [b"x", b"y"])


def test_publishes_over_tcp_unless_told_otherwise(broker, topic):
    """A TCP publish leaves no HTTP connection open (its port came from GET /info)."""
    publisher = Publisher([broker.http_address])
    before = broker.http_connections()
    publisher.publish(topic, b"over tcp")
    assert broker.http_connections() == before
    assert established_to(broker.tcp_port) >= 1
    publisher.close()
    assert received(broker, topic, 1) == [b"over tcp"]


def test_a_broker_whose_tcp_port_is_out_of_reach_is_published_to_over_http(broker, topic):
    publisher = Publisher([broker.http_address], timeout=2)
    publisher._routes[broker.http_address] = (free_port(), float("inf"))  # nobody listens
    publisher.publish(topic, b"over http")
    assert received(broker, topic, 1) == [b"over http"]


def test_pool_size_must_be_positive():
    with pytest.raises(ValueError, match="pool_size must be at least 1"):
        Publisher(["127.0.0.1:4151"], pool_size=0)
