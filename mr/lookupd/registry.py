"""nsqlookupd's registration database: which producers (nsqd nodes) hold which topics.

A registration is (category, key, subkey): ("client", "", "") for every identified node,
("topic", topic, "") and ("channel", topic, channel). Each maps producer ids (the node's
connection address) to producers. Registrations may exist with no producer (created over
HTTP, or left behind when the last producer went away), as in nsqlookupd.

Producers are never expired by a timer: a node whose last PING is older than
--inactive-producer-timeout, or that is tombstoned, is filtered out when read.
Everything runs on one event loop, so no locks.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

ANY = "*"


class Registration(NamedTuple):
    category: str
    key: str
    subkey: str

    def matches(self, category: str, key: str, subkey: str) -> bool:
        return (self.category == category and key in (ANY, self.key)
                and subkey in (ANY, self.subkey))


@dataclass
class PeerInfo:
    """What a node told us in IDENTIFY, plus its connection address and last ping."""
    id: str
    remote_address: str
    broadcast_address: str
    tcp_port: int
    http_port: int
    version: str
    hostname: str = ""
    topology_zone: str = ""
    topology_region: str = ""
    last_update: float = field(default_factory=time.monotonic)

    def to_json(self) -> dict:
        """nsqlookupd's JSON field order for a peer."""
        return {"remote_address": self.remote_address, "hostname": self.hostname,
                "broadcast_address": self.broadcast_address, "tcp_port": self.tcp_port,
                "http_port": self.http_port, "version": self.version,
                "topology_zone": self.topology_zone, "topology_region": self.topology_region}

    @property
    def http_node(self) -> str:
        """How /topic/tombstone names a node: broadcast_address:http_port."""
        return f"{self.broadcast_address}:{self.http_port}"


@dataclass
class Producer:
    peer: PeerInfo
    tombstoned_at: float | None = None

    def tombstone(self) -> None:
        self.tombstoned_at = time.monotonic()

    def is_tombstoned(self, lifetime: float) -> bool:
        return (self.tombstoned_at is not None
                and time.monotonic() - self.tombstoned_at < lifetime)


def active(producers: Iterable[Producer], inactive_timeout: float,
           tombstone_lifetime: float) -> list[Producer]:
    """Producers that pinged within the timeout and are not tombstoned."""
    now = time.monotonic()
    return [p for p in producers if now - p.peer.last_update <= inactive_timeout
            and not p.is_tombstoned(tombstone_lifetime)]


class RegistrationDB:
    def __init__(self) -> None:
        self._map: dict[Registration, dict[str, Producer]] = {}

    def add_registration(self, reg: Registration) -> None:
        self._map.setdefault(reg, {})

    def add_producer(self, reg: Registration, producer: Producer) -> bool:
        """Register a producer; False if it was already there (its state is kept)."""
        producers = self._map.setdefault(reg, {})
        if producer.peer.id in producers:
            return False
        producers[producer.peer.id] = producer
        return True

    def remove_producer(self, reg: Registration, peer_id: str) -> tuple[bool, int]:
        """(whether it was there, how many producers are left); the registration stays."""
        producers = self._map.get(reg)
        if producers is None:
            return False, 0
        removed = producers.pop(peer_id, None) is not None
        return removed, len(producers)

    def remove_registration(self, reg: Registration) -> None:
        self._map.pop(reg, None)

    def find_registrations(self, category: str, key: str, subkey: str) -> list[Registration]:
        if ANY not in (key, subkey):
            reg = Registration(category, key, subkey)
            return [reg] if reg in self._map else []
        return sorted(r for r in self._map if r.matches(category, key, subkey))

    def find_producers(self, category: str, key: str, subkey: str) -> list[Producer]:
        """Producers of the matching registrations, each node once."""
        seen: dict[str, Producer] = {}
        for reg in self.find_registrations(category, key, subkey):
            for peer_id, producer in self._map[reg].items():
                seen.setdefault(peer_id, producer)
        return list(seen.values())

    def lookup_registrations(self, peer_id: str) -> list[Registration]:
        """Every registration a node is a producer of."""
        return sorted(r for r, producers in self._map.items() if peer_id in producers)

    def items(self) -> list[tuple[Registration, list[Producer]]]:
        return [(r, list(p.values())) for r, p in sorted(self._map.items())]


def keys(regs: Iterable[Registration]) -> list[str]:
    return [r.key for r in regs]


def subkeys(regs: Iterable[Registration]) -> list[str]:
    return [r.subkey for r in regs]
