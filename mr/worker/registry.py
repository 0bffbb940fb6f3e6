"""A worker announces itself in etcd under a lease, so others can tell it is alive."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from mr.kv import keys
from mr.kv.client import KV
from mr.kv.codec import pack

log = logging.getLogger(__name__)

LEASE_TTL_S = 10


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Registration:
    def __init__(self, kv: KV, worker_id: str, info: dict):
        self.kv = kv
        self.worker_id = worker_id
        self.info = dict(info, host=socket.gethostname(), pid=os.getpid(), started=time.time())
        self._lease = 0
        self._stopped = threading.Event()

    def start(self) -> "Registration":
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


def is_alive(kv: KV, worker_id: str) -> bool:
    return kv.get(keys.worker(worker_id)) is not None
