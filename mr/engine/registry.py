"""Workers announce themselves in etcd under a lease: who they are (host, pid, version, start),
what they serve (workflows, capabilities, concurrency). Others read it to tell a worker is
alive, to list workers (`mr_worker_list`) and, in the front-end, to refuse at once a request
no live worker could run.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from importlib import metadata
from typing import TYPE_CHECKING

from mr.kv import keys
from mr.kv.codec import pack, unpack
from mr.kv.models import Step
from mr.kv.store import Store

if TYPE_CHECKING:
    from mr.handlers.library import Library

log = logging.getLogger(__name__)

LEASE_TTL_S = 10
CACHE_S = 2.0          # how long the front-end trusts its view of the live workers
RECHECK_S = 0.2        # a missing capability is re-read at most this often


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def package_version() -> str:
    try:
        return metadata.version("mr")
    except metadata.PackageNotFoundError:
        return "unknown"


class Registration:
    def __init__(self, kv: Store, worker_id: str, info: dict):
        self.kv = kv
        self.worker_id = worker_id
        self.info = dict(info, id=worker_id, host=socket.gethostname(), pid=os.getpid(),
                         version=package_version(), started=time.time())
        self._lease = 0
        self._stopped = threading.Event()

    def start(self) -> Registration:
        self._register()
        threading.Thread(target=self._keep_alive, name="registration", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        try:
            self.kv.lease_revoke(self._lease)
        except Exception as exc:  # leaving anyway; the lease expires on its own
            log.warning("could not revoke worker lease: %s", exc)

    def _register(self) -> None:
        self._lease = self.kv.lease_grant(LEASE_TTL_S)
        self.kv.put(keys.worker(self.worker_id), pack(self.info), lease=self._lease)

    def _keep_alive(self) -> None:
        while not self._stopped.wait(LEASE_TTL_S / 3):
            try:
                if self.kv.lease_keepalive(self._lease) <= 0:
                    log.warning("worker lease expired; registering again")
                    self._register()
            except Exception as exc:
                log.warning("worker lease keepalive failed: %s", exc)


def is_alive(kv: Store, worker_id: str) -> bool:
    return kv.get(keys.worker(worker_id)) is not None


def live_workers(kv: Store) -> list[dict]:
    """Every registered worker's record, by id."""
    prefix = keys.workers()
    workers = []
    for entry in kv.scan(prefix):
        info = unpack(entry.value)
        info.setdefault("id", entry.key[len(prefix):])
        workers.append(info)
    return sorted(workers, key=lambda w: w["id"])


class _Directory:
    """The front-end's cached view of the live workers: one etcd read every CACHE_S at most,
    and a fresh read (at most every RECHECK_S) before refusing a request."""

    def __init__(self, kv: Store):
        self.kv = kv
        self.workers: list[dict] = []
        self.read_at = float("-inf")
        self.lock = threading.Lock()

    def offered(self, workflow: str, fresh_within: float) -> set[str]:
        with self.lock:
            if time.monotonic() - self.read_at > fresh_within:
                self.workers, self.read_at = live_workers(self.kv), time.monotonic()
            return {cap for w in self.workers if workflow in w.get("workflows", ())
                    for cap in w.get("capabilities", ())}


_directories: dict[int, _Directory] = {}


def offered_capabilities(kv: Store, workflow: str, fresh_within: float = CACHE_S) -> set[str]:
    """Capabilities that live workers serving `workflow` offer (cached per client)."""
    directory = _directories.get(id(kv))
    if directory is None or directory.kv is not kv:
        directory = _directories[id(kv)] = _Directory(kv)
    return directory.offered(workflow, fresh_within)


def unserved_capability(kv: Store, library: Library, step: Step) -> str | None:
    """Why no live worker could start `step`, or None when its handlers are all served.

    Checks the handlers of the job's initial step only: the steps a mapper fans out to are
    known only when it runs (MapTo), so their capabilities are not checked here.
    """
    needed: dict[str, str] = {}   # capability -> the first handler that needs it
    for name in step.handler_names():
        loaded = library.handler(name)
        if loaded is not None:
            needed.setdefault(loaded.definition.required_capability, name)
    wf = library.workflow
    missing = set(needed) - offered_capabilities(kv, wf)
    if missing:
        missing -= offered_capabilities(kv, wf, RECHECK_S)  # a worker may have just started
    if not missing:
        return None
    cap = sorted(missing)[0]
    return (f"no live worker offers capability {cap!r} for workflow {wf!r} (needed by handler "
            f"{needed[cap]} of step {step.name}); start one with mr_worker --workflow {wf} "
            f"--capability {cap}")
