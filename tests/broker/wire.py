"""A raw-socket protocol V2 client, to check bytes on the wire."""
from __future__ import annotations

import json
import socket
import struct

from mr.broker.protocol import FRAME_MESSAGE, MAGIC_V2, encode_mpub


class Wire:
    def __init__(self, broker, timeout: float = 5.0, magic: bytes = MAGIC_V2) -> None:
        host, port = broker.tcp_address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.sendall(magic)
        self._buf = b""

    def send(self, line: bytes, body: bytes | None = None) -> None:
        data = line + b"\n"
        if body is not None:
            data += struct.pack(">i", len(body)) + body
        self.sock.sendall(data)

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by broker")
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def frame(self, skip_heartbeats: bool = True) -> tuple[int, bytes]:
        while True:
            size, frame_type = struct.unpack(">ii", self._read(8))
            data = self._read(size - 4)
            if not (skip_heartbeats and data == b"_heartbeat_"):
                return frame_type, data

    def call(self, line: bytes, body: bytes | None = None) -> tuple[int, bytes]:
        self.send(line, body)
        return self.frame()

    def message(self) -> tuple[int, int, bytes, bytes]:
        """(timestamp ns, attempts, id, body) of the next message frame."""
        frame_type, data = self.frame()
        assert frame_type == FRAME_MESSAGE, (frame_type, data)
        timestamp, attempts = struct.unpack(">qH", data[:10])
        return timestamp, attempts, data[10:26], data[26:]

    def identify(self, **fields) -> tuple[int, bytes]:
        return self.call(b"IDENTIFY", json.dumps(fields).encode())

    def subscribe(self, topic: str, channel: str, rdy: int = 1) -> None:
        assert self.call(f"SUB {topic} {channel}".encode()) == (0, b"OK")
        self.send(b"RDY %d" % rdy)

    def mpub(self, topic: str, bodies: list[bytes]) -> tuple[int, bytes]:
        return self.call(f"MPUB {topic}".encode(), encode_mpub(bodies))

    def is_closed(self) -> bool:
        """True once the broker has closed the connection (reads EOF)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self._buf += chunk
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()
