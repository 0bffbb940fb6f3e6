"""The TCP side of mr_lookupd: one coroutine per nsqd connection, speaking protocol V1."""
from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from mr.lookupd.protocol import (
    BAD_PROTOCOL,
    MAGIC_V1,
    MAX_BODY,
    ProtocolError,
    Session,
    body_length,
    response,
    split_command,
)
from mr.lookupd.registry import RegistrationDB

log = logging.getLogger("mr.lookupd")


class Lookupd(Protocol):
    """What the TCP side needs of the daemon (mr.lookupd.server provides it): the
    registration database, the reply to IDENTIFY, and the open connections, so that a
    shutdown can close them."""

    db: RegistrationDB
    connections: dict[asyncio.StreamWriter, asyncio.Task]

    def identity(self) -> dict: ...

MAX_LINE = 64 * 1024


async def _read_body(reader: asyncio.StreamReader) -> bytes:
    try:
        size = body_length(await reader.readexactly(4))
    except asyncio.IncompleteReadError:
        raise ProtocolError("E_BAD_BODY", "IDENTIFY failed to read body size") from None
    if not 0 <= size <= MAX_BODY:
        raise ProtocolError("E_BAD_BODY", "IDENTIFY failed to read body")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise ProtocolError("E_BAD_BODY", "IDENTIFY failed to read body") from None


async def _io_loop(session: Session, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        params = split_command(line)
        try:
            if params[0] == "IDENTIFY":
                session.check_identify()
                reply = session.identify(await _read_body(reader))
            else:
                reply = session.execute(params)
        except ProtocolError as err:
            log.error("[%s] - %s", session.remote, err)
            writer.write(err.reply())
            await writer.drain()
            return
        writer.write(response(reply))
        await writer.drain()


async def handle(lookupd: Lookupd, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
    """Serve one node until it disconnects or errs; then drop its registrations."""
    peer = writer.get_extra_info("peername")
    remote = f"{peer[0]}:{peer[1]}" if peer else "?"
    log.info("TCP: new client(%s)", remote)
    session = Session(lookupd.db, remote, lookupd.identity())
    task = asyncio.current_task()
    if task is not None:  # always: the server runs each connection's handler as a task
        lookupd.connections[writer] = task
    try:
        magic = await reader.readexactly(4)
        log.info("CLIENT(%s): desired protocol magic %r", remote, magic.decode(errors="replace"))
        if magic != MAGIC_V1:
            log.error("client(%s) bad protocol magic %r", remote, magic)
            writer.write(response(BAD_PROTOCOL))
            await writer.drain()
            return
        await _io_loop(session, reader, writer)
        log.info("PROTOCOL(V1): [%s] exiting ioloop", remote)
    except asyncio.IncompleteReadError:
        log.error("failed to read protocol version from %s", remote)
    except (ConnectionError, OSError) as err:
        log.error("client(%s) - %s", remote, err)
    finally:
        session.close()
        lookupd.connections.pop(writer, None)
        writer.close()


async def start_tcp_server(lookupd: Lookupd, host: str, port: int) -> asyncio.Server:
    return await asyncio.start_server(lambda r, w: handle(lookupd, r, w), host, port,
                                      reuse_address=True, limit=MAX_LINE)
