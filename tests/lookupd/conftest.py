"""Fixtures: a real mr_lookupd process, and raw protocol-V1 clients that act as nsqd nodes."""
from __future__ import annotations

import itertools
import json
import os
import socket
import struct
import urllib.error
import urllib.request
from email.message import Message

import pytest

from mr import cluster

_names = itertools.count()


def start_lookupd(tmp_path, *flags: str) -> cluster.Service:
    return cluster.start_on_free_ports(lambda: cluster.lookupd(
        tmp_path / f"lookupd-{next(_names)}.log", None, None, *flags))


def start_broker(tmp_path, *lookupds: str) -> cluster.Service:
    """mr_broker broadcasting 127.0.0.1 and registering with each lookupd TCP address."""
    n = next(_names)
    flags = ["--broadcast-address=127.0.0.1", *(f"--lookupd-tcp-address={a}" for a in lookupds)]
    return cluster.start_on_free_ports(lambda: cluster.broker(
        tmp_path / f"broker{n}", tmp_path / f"broker{n}.log", None, None, *flags))


@pytest.fixture(scope="module")
def lookupd(tmp_path_factory):
    server = start_lookupd(tmp_path_factory.mktemp("lookupd"))
    yield server
    server.stop()


@pytest.fixture
def topic():
    """A topic name no other test uses."""
    return f"lt{os.getpid()}_{next(_names)}"


def http(service: cluster.Service, path: str, method: str = "GET") -> tuple[int, Message, bytes]:
    """(status, headers, body) of one request to the service's HTTP address."""
    request = urllib.request.Request(f"http://{service.http_address}{path}", method=method,
                                     data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def get_json(service: cluster.Service, path: str) -> dict:
    status, _, body = http(service, path)
    assert status == 200, (path, status, body)
    return json.loads(body)


class Node:
    """A raw socket speaking nsqlookupd's protocol V1, as nsqd does."""

    def __init__(self, service: cluster.Service, magic: bytes = b"  V1") -> None:
        host, port = service.address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.sendall(magic)
        self._buf = b""

    @property
    def address(self) -> str:
        """How lookupd names this node: its side of the connection."""
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"

    def send(self, line: bytes, body: bytes | None = None) -> None:
        data = line + b"\n"
        if body is not None:
            data += struct.pack(">i", len(body)) + body
        self.sock.sendall(data)

    def reply(self) -> bytes:
        size = struct.unpack(">i", self._read(4))[0]
        return self._read(size)

    def call(self, line: bytes, body: bytes | None = None) -> bytes:
        self.send(line, body)
        return self.reply()

    def identify(self, tcp_port: int = 4150, http_port: int = 4151, **fields) -> dict:
        info = {"broadcast_address": "127.0.0.1", "tcp_port": tcp_port, "http_port": http_port,
                "version": "1.3.0", "hostname": "node.test", **fields}
        return json.loads(self.call(b"IDENTIFY", json.dumps(info).encode()))

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by lookupd")
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def is_closed(self) -> bool:
        """True once lookupd has closed the connection (reads EOF)."""
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except ConnectionError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def nodes(lookupd):
    """Make identified-or-not nodes of the module's lookupd; all closed after the test."""
    made: list[Node] = []

    def make(service: cluster.Service | None = None, **kwargs) -> Node:
        made.append(Node(service or lookupd, **kwargs))
        return made[-1]
    yield make
    for node in made:
        node.close()
