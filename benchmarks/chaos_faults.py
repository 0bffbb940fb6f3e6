"""The soak's fault injector: real processes of the topology killed, paused and restarted.

One fault at a time, every `every_s`, each undone before the next, in rounds that take every
kind once in a shuffled (seeded) order: a
worker SIGKILLed then restarted; a front-end's gunicorn worker SIGKILLed (its master starts
another); a broker SIGKILLed and restarted at once (its in-memory messages are lost); an etcd
member SIGKILLed and restarted (the other two keep a quorum); a worker paused with SIGSTOP past
the message timeout, then resumed. Messages are duplicated all along by a Replayer on one
broker. Every process that was killed or paused is a suspect: only those may have run an
invocation that then ran again elsewhere.
"""
from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections import Counter

from benchmarks.measure import descendants
from mr.topology import Topology

log = logging.getLogger(__name__)

FAULTS = ("worker_kill", "front_end_kill", "broker_kill", "etcd_kill", "worker_pause")


class Faults:
    def __init__(self, topology: Topology, every_s: float, pause_s: float, seed: int,
                 until: float):
        """Faults until time.monotonic() reaches `until` (or stop())."""
        self.topology, self.every_s, self.pause_s = topology, every_s, pause_s
        self.until = until
        self.rng = random.Random(seed)
        self.done: Counter[str] = Counter()
        self.suspects: set[int] = set()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faults", daemon=True)

    def start(self) -> Faults:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(120)

    def _run(self) -> None:
        order: list[str] = []
        while not self._stop.wait(self.every_s) and time.monotonic() < self.until:
            if not order:
                order = self.rng.sample(FAULTS, len(FAULTS))
            fault = order.pop()
            try:
                getattr(self, fault)()
                self.done[fault] += 1
            except Exception as exc:   # the soak reports it; the topology may be broken now
                log.exception("fault %s", fault)
                self.errors.append(f"{fault}: {exc.__class__.__name__}: {exc}")

    def worker_kill(self) -> None:
        worker = self.rng.choice(self.topology.workers)
        self.suspects.add(worker.pid)
        worker.kill()
        time.sleep(1.0)
        worker.start()

    def front_end_kill(self) -> None:
        front_end = self.rng.choice(self.topology.front_ends)
        tree = descendants(front_end.pid)
        workers = sorted(set(tree) - set(tree.values()))   # gunicorn's workers: the leaves
        if workers:
            os.kill(self.rng.choice(workers), signal.SIGKILL)

    def broker_kill(self) -> None:
        broker = self.rng.choice(self.topology.brokers)
        broker.kill()
        broker.start()

    def etcd_kill(self) -> None:
        member = self.rng.choice(self.topology.etcd)
        member.kill()
        time.sleep(2.0)
        member.start(wait=False)
        member.wait_ready(60)

    def worker_pause(self) -> None:
        worker = self.rng.choice(self.topology.workers)
        self.suspects.add(worker.pid)
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            self._stop.wait(self.pause_s)
        finally:
            os.kill(worker.pid, signal.SIGCONT)
