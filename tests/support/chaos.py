"""Fault injection on real processes for the reliability tests: kill, freeze, restart, replay.

Each helper acts on a real process or on the real broker; none of them fakes a failure.
"""
from __future__ import annotations

import json
import os
import random
import signal
import threading
import urllib.request
from collections import defaultdict
from pathlib import Path

import msgpack

from mr import cluster
from mr.cluster import wait_for
from mr.worker.nsqd_link import Reconnector

# --- processes ------------------------------------------------------------------------------

def sigkill(service: cluster.Service) -> int:
    """Kill like a crash (no clean-up at all); returns the pid that died."""
    pid = service.pid
    service.kill()
    return pid


def alive(pid: int) -> bool:
    """Whether process `pid` still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def running(pid: int) -> bool:
    """Whether process `pid` still runs: a zombie (dead, not yet reaped) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def freeze(service: cluster.Service) -> None:
    """SIGSTOP: the process keeps its sockets open but answers nothing (a hung host)."""
    os.kill(service.pid, signal.SIGSTOP)


def thaw(service: cluster.Service) -> None:
    os.kill(service.pid, signal.SIGCONT)


def port_closed(address: str) -> bool:
    import socket
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
        return False
    except OSError:
        return True


def stop_service(service: cluster.Service) -> None:
    """Stop cleanly (SIGTERM) and wait until its port refuses connections."""
    service.stop()
    wait_for(lambda: port_closed(service.address), timeout=20,
             message=f"{service.name} port {service.address} closed")


# --- what the handlers recorded ------------------------------------------------------------

def runs_of(log_path: Path, request_id: str) -> dict[str, list[int]]:
    """{invocation id: [pid of each run]} from a handler's run log ("rid iid pid" lines)."""
    runs: dict[str, list[int]] = defaultdict(list)
    if log_path.exists():
        for line in log_path.read_text().splitlines():
            rid, iid, pid = line.split()
            if rid == request_id:
                runs[iid].append(int(pid))
    return dict(runs)


def is_leaf(iid: str) -> bool:
    """A leaf of the tree job ("0.<group>.<leaf>"): a mapper that returns, whose claim commits
    with its outcome, so copies of its message that arrive while it runs may run its code
    too (its output still counts once: the result would say otherwise)."""
    return iid.count(".") == 2 and not iid.endswith(".r")


def extra_runs(runs: dict[str, list[int]], suspects: set[int],
               may_repeat=lambda iid: False) -> dict[str, list[int]]:
    """Invocations whose runs break "one run per invocation", allowing for failed processes.

    A process that was killed or frozen may have run an invocation that then ran again
    elsewhere; every other process must account for at most one run, and every invocation
    must have run at least once. `may_repeat(iid)`: an invocation whose code copies of its
    message may run more than once (a leaf that commits its claim with its outcome: its
    effect still counts once).
    """
    bad = {}
    for iid, pids in runs.items():
        healthy = [pid for pid in pids if pid not in suspects]
        if (len(healthy) > 1 and not may_repeat(iid)) or not pids:
            bad[iid] = pids
    return bad


# --- the broker -----------------------------------------------------------------------------

def channel_stats(http_address: str, topic: str, channel: str) -> dict:
    with urllib.request.urlopen(f"http://{http_address}/stats?format=json&topic={topic}",
                                timeout=5) as reply:
        stats = json.load(reply)
    for t in stats["topics"]:
        for c in t["channels"]:
            if t["topic_name"] == topic and c["channel_name"] == channel:
                return c
    return {}


def publish_raw(http_address: str, topic: str, body: bytes, defer_ms: int = 0) -> None:
    url = f"http://{http_address}/pub?topic={topic}" + (f"&defer={defer_ms}" if defer_ms else "")
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"),
                                timeout=5) as reply:
        assert reply.status == 200


class Replayer:
    """Publishes `copies` extra copies of every message of a topic, each after a random delay.

    Its own channel sees every message; copies are deferred 0-`max_defer_ms` by the broker,
    so the workers get each invocation message several times and in a shuffled order, as NSQ
    is allowed to deliver. Copies carry a mark so they are not copied again.
    """

    def __init__(self, broker: cluster.Service, topic: str, copies: int = 2,
                 max_defer_ms: int = 300, seed: int = 0):
        import nsq  # the same client library the workers use
        import tornado.ioloop
        self.broker, self.topic, self.copies = broker, topic, copies
        self.max_defer_ms = max_defer_ms
        self.copied = 0
        self._random = random.Random(seed)
        self._loop: tornado.ioloop.IOLoop | None = None
        self._nsq, self._ioloop = nsq, tornado.ioloop
        create = f"http://{broker.http_address}/channel/create?topic={topic}&channel=replayer"
        urllib.request.urlopen(urllib.request.Request(create, method="POST"), timeout=5)
        threading.Thread(target=self._run, name="replayer", daemon=True).start()
        wait_for(lambda: channel_stats(broker.http_address, topic, "replayer").get("clients"),
                 timeout=20, message="replayer connected")

    def _run(self) -> None:
        import asyncio
        asyncio.set_event_loop(asyncio.new_event_loop())
        self._loop = self._ioloop.IOLoop.current()
        reader = self._nsq.Reader(topic=self.topic, channel="replayer",
                                  message_handler=self._copy, max_in_flight=500, max_tries=0,
                                  nsqd_tcp_addresses=[self.broker.address])
        Reconnector([reader], [self.broker.address]).start()  # survives broker restarts
        self._loop.start()

    def _copy(self, message) -> bool:
        body = msgpack.unpackb(message.body, raw=False)
        if body.get("copy"):
            return True
        body["copy"] = True
        for _ in range(self.copies):
            publish_raw(self.broker.http_address, self.topic, msgpack.packb(body),
                        self._random.randint(0, self.max_defer_ms))
        self.copied += 1
        return True

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.add_callback(self._loop.stop)
