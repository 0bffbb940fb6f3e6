"""The broker: its core wired to the TCP and HTTP listeners, the timers and the lookupd peers.

This is the one module that knows every side; the core below it knows none of them.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import socket
from typing import TYPE_CHECKING

from mr.broker import tls
from mr.broker.core import BrokerCore
from mr.broker.lookup_peers import LookupPeers
from mr.broker.options import Options, split_address
from mr.broker.tcp import ClientConnection

if TYPE_CHECKING:
    from mr.broker.http_gate import GatedHTTPServer

log = logging.getLogger("mr.broker")

SCAN_INTERVAL = 0.1  # nsqd's queue scan interval: in-flight timeouts and deferred messages


class Broker(BrokerCore):
    lookup: LookupPeers

    def __init__(self, options: Options) -> None:
        super().__init__(options, LookupPeers(options.lookupd_tcp_addresses))
        self.tls_context = tls.server_context(options)  # None unless --tls-cert/--tls-key
        self._tcp_server: asyncio.AbstractServer | None = None
        self._http_server: GatedHTTPServer | None = None
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        from mr.broker.http import start_http_server  # tornado import kept out of unit tests

        if self.persistent:
            self.restore()
        loop = asyncio.get_running_loop()
        host, port = split_address(self.options.tcp_address)
        self._tcp_server = await loop.create_server(
            lambda: ClientConnection(self, self.tls_context), host, port, reuse_address=True,
            family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.tcp_port = self._tcp_server.sockets[0].getsockname()[1]
        log.info("TCP: listening on %s:%d", host, self.tcp_port)
        self._http_server, self.http_port = start_http_server(self)
        log.info("HTTP: listening on %s", self.options.http_address)
        self._tasks = [loop.create_task(self._every(SCAN_INTERVAL, self.scan)),
                       loop.create_task(self._every(self.options.sync_timeout, self.sync))]
        self.lookup.start(self)

    async def _every(self, interval: float, action) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                action()
            except Exception:  # a timer must survive one bad pass
                log.exception("periodic %s failed", action.__name__)

    async def stop(self) -> None:
        """Stop accepting, persist every queued, in-flight and deferred message, close."""
        log.info("NSQ: closing")
        await self.lookup.stop()
        for task in self._tasks:
            task.cancel()
        if self._tcp_server is not None:
            self._tcp_server.close()
        if self._http_server is not None:
            self._http_server.stop()
        self.persist_metadata()
        for topic in self.topics.values():
            topic.close()
        for client in list(self.clients):
            client.close()
        if self._tcp_server is not None:
            await self._tcp_server.wait_closed()
        if not self.persistent:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        log.info("NSQ: bye")
