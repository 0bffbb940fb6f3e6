"""A process's view of one workflow's jobs, steps and compiled handlers, kept current by a watch.

Each change builds a new immutable Snapshot and swaps one reference, so an invocation that took
a snapshot runs one consistent set of versions: the old handler or the new one, never a mix.
Handlers compile once per version (mr.handlers.processors, in whatever language they are
written), with the values the workflow's scope factory gives each of them.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from mr.handlers import processors
from mr.handlers.processors import LoadedHandler, ScopeOf
from mr.kv import keys
from mr.kv.client import EtcdUnavailable
from mr.kv.models import Handler, Job, Step, decode
from mr.kv.store import Store
from mr.kv.watch import Follower, WatchCompacted

log = logging.getLogger(__name__)
V = TypeVar("V")

KINDS: dict[str, type[Job | Step | Handler]] = {"job": Job, "step": Step, "handler": Handler}


@dataclass(frozen=True)
class Snapshot:
    jobs: dict[str, Job] = field(default_factory=dict)
    steps: dict[str, Step] = field(default_factory=dict)
    handlers: dict[str, LoadedHandler] = field(default_factory=dict)
    revision: int = 0


class Library:
    def __init__(self, kv: Store, workflow: str, compile_code: bool = True,
                 scope: ScopeOf | None = None):
        self.kv = kv
        self.workflow = workflow
        self.compile_code = compile_code
        self.scope = scope
        self.snapshot = Snapshot()
        self._compiled: dict[tuple[str, str], LoadedHandler] = {}
        self._lock = threading.Lock()
        self._follower = Follower(f"library-{workflow}", self._follow)

    def start(self) -> Library:
        """Load everything now (so the first request finds its handlers), then follow changes."""
        self._reload()
        self._follower.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop following changes (mr.kv.watch.Follower.stop)."""
        self._follower.stop(timeout)

    # --- lookups -------------------------------------------------------------------------
    def job(self, name: str) -> Job | None:
        return self.snapshot.jobs.get(name) or self._fetch("job", name, lambda s: s.jobs)

    def step(self, name: str) -> Step | None:
        return self.snapshot.steps.get(name) or self._fetch("step", name, lambda s: s.steps)

    def handler(self, name: str) -> LoadedHandler | None:
        return (self.snapshot.handlers.get(name)
                or self._fetch("handler", name, lambda s: s.handlers))

    def _fetch(self, kind: str, name: str,
               table: Callable[[Snapshot], dict[str, V]]) -> V | None:
        """A definition newer than our watch has delivered: read it directly and apply it;
        `table` is where the snapshot keeps that kind."""
        entry = self.kv.get(keys.definition(self.workflow, kind, name))
        if entry is None:
            return None
        self._apply([("put", entry.key, entry.value)], 0)
        return table(self.snapshot).get(name)

    # --- keeping current -----------------------------------------------------------------
    def _reload(self) -> int:
        """Load every definition as of one revision; the watch continues from the next."""
        revision = self.kv.revision()
        changes = [("put", e.key, e.value)
                   for e in self.kv.scan(keys.definitions(self.workflow), revision=revision)]
        with self._lock:
            self.snapshot = Snapshot(revision=0)
        self._apply(changes, revision)
        return revision

    def _follow(self) -> None:
        revision = self.snapshot.revision
        delay = 0.1
        stopped = self._follower.stopped
        while not stopped.is_set():
            try:
                watch = self._follower.open(
                    partial(self.kv.watch_prefix, keys.definitions(self.workflow), revision + 1))
                if watch is None:
                    return
                for rev, events in watch:
                    self._apply([(e.kind, e.entry.key, e.entry.value) for e in events], rev)
                    revision, delay = rev, 0.1
            except WatchCompacted:
                revision = self._reload()
            except EtcdUnavailable as exc:
                if stopped.is_set():
                    return
                log.warning("handler watch for %s lost (%s); retrying", self.workflow, exc)
                stopped.wait(delay)
                delay = min(delay * 2, 5.0)
                try:
                    revision = self._reload()
                except EtcdUnavailable:
                    continue

    def _apply(self, changes: list[tuple[str, str, bytes]], revision: int) -> None:
        with self._lock:
            jobs, steps = dict(self.snapshot.jobs), dict(self.snapshot.steps)
            handlers = dict(self.snapshot.handlers)
            tables: dict[str, dict[str, Any]] = {"job": jobs, "step": steps,
                                                 "handler": handlers}
            for kind, key, value in changes:
                table_name, name = key[len(keys.definitions(self.workflow)):].split("/", 1)
                if table_name not in KINDS:
                    continue
                table = tables[table_name]
                if kind == "delete":
                    table.pop(name, None)
                    continue
                if table_name == "handler":
                    table[name] = self._load(decode(Handler, value))
                else:
                    table[name] = decode(KINDS[table_name], value)
            self.snapshot = replace(self.snapshot, jobs=jobs, steps=steps, handlers=handlers,
                                    revision=max(revision, self.snapshot.revision))

    def _load(self, handler: Handler) -> LoadedHandler:
        cache_key = (handler.name, handler.version)
        loaded = self._compiled.get(cache_key)
        if loaded is None:
            loaded = (processors.load(handler, self.scope) if self.compile_code
                      else LoadedHandler(handler, None))
            self._compiled = {k: v for k, v in self._compiled.items() if k[0] != handler.name}
            self._compiled[cache_key] = loaded
        return loaded
