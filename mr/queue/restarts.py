"""Noticing a broker that came back as a new process: the messages it held in memory are gone.

A broker restarted if, since the last look, its start time changed (nsqd's `/stats` gives it
in whole seconds, so a quick restart can keep it), a topic's message count went down (nsqd
counts messages published since it started and does not keep the count across restarts; a
topic gone counts as zero), or it did not answer and now does. etcd still names the
unfinished invocations, so the sweeper publishes them again at once rather than after
MR_STALL_S without progress; a broker that did not lose them only gets duplicates, which the
start claim makes harmless. Brokers are the nsqd HTTP addresses a worker publishes to, and
those its nsqlookupds know.
"""
from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Life:
    """What tells one run of a broker from the next."""
    start_time: int
    message_counts: dict[str, int] = field(default_factory=dict)   # topic -> messages since start

    def followed_by(self, later: Life) -> bool:
        """Whether `later` can be this same run, seen again."""
        return later.start_time == self.start_time and all(
            later.message_counts.get(topic, 0) >= count
            for topic, count in self.message_counts.items())


class BrokerRestarts:
    def __init__(self, http_hosts: list[str], lookupd_hosts: list[str],
                 timeout: float = TIMEOUT_S):
        self.http_hosts, self.lookupd_hosts = list(http_hosts), list(lookupd_hosts)
        self.timeout = timeout
        self._lives: dict[str, Life | None] = {}   # address -> its last look (None: down)

    def check(self) -> list[str]:
        """The brokers that restarted since the last call (none at the first call)."""
        restarted = []
        for address in self._addresses():
            life = self._life(address)
            if address in self._lives and life is not None:
                before = self._lives[address]
                if before is None or not before.followed_by(life):
                    restarted.append(address)
            self._lives[address] = life
        return restarted

    def _addresses(self) -> list[str]:
        found = list(self.http_hosts)
        for lookupd in self.lookupd_hosts:
            nodes = self._get(lookupd, "/nodes") or {}
            for node in nodes.get("producers", []):
                address = f"{node.get('broadcast_address')}:{node.get('http_port')}"
                if address not in found:
                    found.append(address)
        return found

    def _life(self, address: str) -> Life | None:
        stats = self._get(address, "/stats?format=json&include_clients=false&include_mem=false")
        if isinstance(stats, dict) and isinstance(stats.get("data"), dict):
            stats = stats["data"]   # nsqd before 1.0 wrapped its replies
        if not isinstance(stats, dict) or not isinstance(stats.get("start_time"), int):
            return None
        counts = {t["topic_name"]: t["message_count"] for t in stats.get("topics") or []
                  if isinstance(t, dict) and isinstance(t.get("message_count"), int)}
        return Life(stats["start_time"], counts)

    def _get(self, address: str, path: str) -> dict | None:
        try:
            with urllib.request.urlopen(f"http://{address}{path}",
                                        timeout=self.timeout) as reply:
                return json.loads(reply.read())
        except (OSError, ValueError) as exc:
            log.debug("GET %s%s: %s", address, path, exc)
            return None
