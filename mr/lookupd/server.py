"""mr_lookupd: the registration database with its TCP (nsqd) and HTTP (consumer) listeners."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import TYPE_CHECKING

from mr.broker.options import VERSION, split_address
from mr.lookupd.options import Options
from mr.lookupd.registry import RegistrationDB
from mr.lookupd.tcp import start_tcp_server

if TYPE_CHECKING:
    from mr.broker.http_gate import GatedHTTPServer

log = logging.getLogger("mr.lookupd")


class Lookupd:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.db = RegistrationDB()
        self.tcp_port = -1
        self.http_port = -1
        self.connections: dict[asyncio.StreamWriter, asyncio.Task] = {}
        self._tcp_server: asyncio.Server | None = None
        self._http_server: GatedHTTPServer | None = None

    def identity(self) -> dict:
        """Our reply to a node's IDENTIFY (nsqd keeps the broadcast address and HTTP port)."""
        return {"tcp_port": self.tcp_port, "http_port": self.http_port, "version": VERSION,
                "broadcast_address": self.options.broadcast_address,
                "hostname": socket.gethostname()}

    async def start(self) -> None:
        from mr.lookupd.http import start_http_server  # tornado stays out of unit tests

        host, port = split_address(self.options.tcp_address)
        self._tcp_server = await start_tcp_server(self, host, port)
        self.tcp_port = self._tcp_server.sockets[0].getsockname()[1]
        log.info("TCP: listening on %s:%d", host, self.tcp_port)
        host, port = split_address(self.options.http_address)
        self._http_server, self.http_port = start_http_server(self, host, port, self.options)
        log.info("HTTP: listening on %s:%d", host, self.http_port)

    async def stop(self) -> None:
        """Stop listening and close every node's connection (they reconnect elsewhere)."""
        if self._tcp_server is not None:
            self._tcp_server.close()
        if self._http_server is not None:
            self._http_server.stop()
        handlers = list(self.connections.values())
        for writer in list(self.connections):
            writer.close()
        await asyncio.gather(*handlers, return_exceptions=True)  # each drops its registrations
        if self._tcp_server is not None:
            await self._tcp_server.wait_closed()
        log.info("LOOKUPD: bye (pid %d)", os.getpid())
