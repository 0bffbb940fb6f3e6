"""The HTTP port's front door: a new connection must start speaking HTTP, and soon.

tornado waits for a complete request header however long it takes and whatever the bytes
are, so an NSQ client pointed at the HTTP port by mistake (its "  V2" handshake) or a client
that trickles its header would hold a connection forever. nsqd's Go server answers a
malformed request line with `400 Bad Request` at once; this gate does the same, before
tornado sees the connection, by peeking at what arrived without consuming it. It then gives
the client --http-header-timeout to complete its first request header and closes the
connection otherwise. Between requests on a kept-alive connection (and for a slow body)
tornado's own idle and body timeouts, set from --http-idle-timeout, apply.
"""
from __future__ import annotations

import asyncio
import logging
import re
import socket
import time

import tornado.httpserver
import tornado.iostream

log = logging.getLogger("mr.broker")

BAD_REQUEST = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
               b"Connection: close\r\n\r\n400 Bad Request")
MAX_HEADER_SIZE = 64 * 1024
_POLL_S = 0.01  # while a header is incomplete: peeking does not consume, so readiness stays on
_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]"
_REQUEST_LINE = re.compile(rb"%s+ [^ \r\n]+ HTTP/\d\.\d\r?" % _TOKEN)
# What may precede the end of the first line: part of a method, target and version.
_REQUEST_LINE_PREFIX = re.compile(
    rb"(?:%s+(?: [^ \r\n]*(?: H(?:T(?:T(?:P(?:/\d?(?:\.\d?)?)?)?)?)?)?)?)?" % _TOKEN)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def verdict(head: bytes) -> bool | None:
    """True: a complete header with a valid request line; False: not HTTP; None: wait."""
    head = head.lstrip(b"\r\n")  # servers ignore empty lines before a request (RFC 9112)
    line, newline, _ = head.partition(b"\n")
    if newline:
        if not _REQUEST_LINE.fullmatch(line):
            return False
    elif not _REQUEST_LINE_PREFIX.fullmatch(line):
        return False
    if _HEADER_END.search(head) or len(head) >= MAX_HEADER_SIZE:
        return True  # tornado answers an oversize header itself
    return None


async def _readable(sock: socket.socket, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(True)

    loop.add_reader(sock.fileno(), wake)
    try:
        await asyncio.wait_for(ready, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(sock.fileno())


def _end(sock: socket.socket, answer: bytes = b"") -> None:
    """Send `answer` and end the connection. Unread input is consumed first: closing a socket
    with unread input makes the kernel reset it, and the client would lose the answer."""
    try:
        for _ in range(16):  # bounded: a client that keeps sending is reset after all
            if not sock.recv(MAX_HEADER_SIZE):
                break
    except OSError:  # BlockingIOError: all consumed
        pass
    try:
        sock.sendall(answer)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


async def admit(stream: tornado.iostream.IOStream, address, header_timeout: float,
                logger: logging.Logger = log) -> bool:
    """Whether to hand the connection to tornado; otherwise it has been answered and closed."""
    sock = stream.socket
    deadline = time.monotonic() + header_timeout
    while True:
        if not await _readable(sock, max(0.0, deadline - time.monotonic())):
            logger.info("HTTP: client(%s) sent no request header in %.1fs, closing",
                        address, header_timeout)
            _end(sock)
            stream.close()
            return False
        try:
            head = sock.recv(MAX_HEADER_SIZE, socket.MSG_PEEK)
        except OSError:
            stream.close()
            return False
        if not head:  # closed by the client
            stream.close()
            return False
        answer = verdict(head)
        if answer is not None:
            if not answer:
                logger.info("HTTP: client(%s) sent a malformed request line: 400", address)
                _end(sock, BAD_REQUEST)
                stream.close()
            return answer
        await asyncio.sleep(_POLL_S)


class GatedHTTPServer(tornado.httpserver.HTTPServer):
    """tornado's HTTP server behind `admit`; `logger`: the server's own (mr_lookupd's too)."""

    def initialize(self, *args, header_timeout: float = 10.0, logger: logging.Logger = log,
                   **kwargs) -> None:
        super().initialize(*args, **kwargs)
        self.header_timeout = header_timeout
        self.logger = logger

    # tornado's TCPServer runs what handle_stream returns (an awaitable is allowed there);
    # HTTPServer's annotation says None.
    async def handle_stream(  # type: ignore[override]
            self, stream: tornado.iostream.IOStream, address: tuple) -> None:
        if await admit(stream, address, self.header_timeout, self.logger):
            super().handle_stream(stream, address)
