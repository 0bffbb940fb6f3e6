"""At-least-once delivery with exactly-once effect, and live handler updates, on real processes."""
import asyncio
import shutil
import threading
import urllib.request
from collections import Counter
from pathlib import Path

import msgpack
import nsq
import tornado.ioloop

from mr.cluster import wait_for
from mr.queue.publisher import Publisher
from mr.queue.topics import topic
from tests.integration.conftest import CASES_DIR


class Duplicator:
    """Copies every message of a topic back into it (marked, so copies are not copied again).

    Its own channel gets a copy of every message, so each invocation message reaches the
    workers twice, the copy later and in another order, as NSQ is allowed to do.
    """

    def __init__(self, broker, topic_name: str):
        self.topic = topic_name
        self.broker = broker
        self.copied = 0
        self._loop = None
        create = (f"http://{broker.http_address}/channel/create?topic={topic_name}"
                  f"&channel=duplicator")
        urllib.request.urlopen(urllib.request.Request(create, method="POST"), timeout=5)
        self._publisher = Publisher([broker.http_address])
        threading.Thread(target=self._run, daemon=True).start()
        wait_for(self._connected, timeout=15, message="duplicator connected")

    def _connected(self) -> bool:
        import json
        with urllib.request.urlopen(f"http://{self.broker.http_address}/stats?format=json",
                                    timeout=5) as reply:
            stats = json.load(reply)
        for t in stats["topics"]:
            for channel in t["channels"]:
                if t["topic_name"] == self.topic and channel["channel_name"] == "duplicator":
                    return bool(channel["clients"])
        return False

    def _run(self) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        self._loop = tornado.ioloop.IOLoop.current()
        nsq.Reader(topic=self.topic, channel="duplicator", message_handler=self._copy,
                   nsqd_tcp_addresses=[self.broker.address], max_in_flight=200, max_tries=0)
        self._loop.start()

    def _copy(self, message) -> bool:
        body = msgpack.unpackb(message.body, raw=False)
        if not body.get("copy"):
            body["copy"] = True
            self._publisher.publish(self.topic, msgpack.packb(body))
            self.copied += 1
        return True

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.add_callback(self._loop.stop)


def reducer_runs(engine, request_id: str) -> list[str]:
    log = Path(engine.env["MR_DATA_DIR"]) / "reducer_runs.log"
    return [line.split()[1] for line in log.read_text().splitlines()
            if line.startswith(request_id + " ")]


def test_every_message_twice_gives_the_same_result_and_one_reduce_per_parent(engine):
    duplicator = Duplicator(engine.broker, topic(engine.cases, "general"))
    try:
        for n in (3, 8):
            reply = engine.post(engine.cases, "nested", {"n": n})
            assert reply.status_code == 200, reply.text
            assert reply.json()["result"] == [["total", sum(10 * i + j for i in range(n)
                                                            for j in range(3))]]
            runs = Counter(reducer_runs(engine, reply.json()["request_id"]))
            # A leaf ("0.i.j") commits its claim with its outcome: a copy that came while it
            # ran may have run it too (its output counts once: the total says so). Every
            # parent's reduction ran once.
            again = {iid: n for iid, n in runs.items()
                     if n > 1 and (iid.count(".") < 2 or iid.endswith(".r"))}
            assert again == {}, f"reducers ran more than once: {runs}"
            assert len(runs) == 3 * n + n + 1
        # Every message was copied: per request the root, n middles, 3n leaves, n + 1 reduces.
        # Copies of the last ones arrive after their request ended, which must be harmless.
        expected = sum(1 + n + 3 * n + n + 1 for n in (3, 8))
        wait_for(lambda: duplicator.copied >= expected, timeout=30, message="all copies made")
    finally:
        duplicator.stop()


def test_handler_update_while_requests_run(engine, tmp_path):
    updated = tmp_path / "handlers"
    shutil.copytree(CASES_DIR, updated)
    source = updated / "versioned.py"
    source.write_text(source.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    seen, errors, stop = [], [], threading.Event()

    def keep_requesting():
        while not stop.is_set():
            reply = engine.post(engine.cases, "versioned", {})
            if reply.status_code != 200:
                errors.append(reply.text)
            else:
                seen.append(reply.json()["result"][0][1])

    threads = [threading.Thread(target=keep_requesting) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(seen) >= 5, timeout=30, message="requests before the update")
        synced = engine.sync(engine.cases, updated)
        assert synced.returncode == 0, synced.stderr
        assert "update versioned" in synced.stdout
        after_sync = len(seen)
        wait_for(lambda: seen[after_sync:].count("v2") >= 10, timeout=30,
                 message="requests served by the new version")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert errors == []
    assert set(seen) <= {"v1", "v2"} and seen[:5] == ["v1"] * 5
    assert seen[-5:] == ["v2"] * 5  # both workers run the new version now
    # Put v1 back for other tests of this module.
    assert engine.sync(engine.cases, CASES_DIR).returncode == 0
