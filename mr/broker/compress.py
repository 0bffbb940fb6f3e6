"""Compression of a client connection's stream, negotiated in IDENTIFY as nsqd does.

Both directions of the connection are compressed from the OK that follows the IDENTIFY
response (after the TLS upgrade when both are asked for: compression runs inside TLS).
Deflate is raw deflate (no zlib header) at the level the client asked for, capped by
--max-deflate-level, with a sync flush after each write so a frame is never held back;
snappy is snappy's framing format, as Go's snappy reader and writer (and python-snappy,
which pynsq uses) speak it.

Snappy chunks hold at most SNAPPY_CHUNK uncompressed bytes, so that one framed chunk always
fits in a TLS record; over TLS the broker writes whole chunks to a record (tls_records), never
a part of one. pynsq's snappy socket needs that: when a read from its TLS socket decompresses
to nothing (a record that ends inside a chunk) it raises an OSError without an errno, which
tornado takes for a broken connection and closes it. nsqd (Go's snappy writer: an
uncompressed chunk's header and body are two writes, so two records) trips it on every small
message; whole chunks per record never do, whatever the network does to the TCP segments.
"""
from __future__ import annotations

import zlib
from typing import Protocol

import snappy

DEFAULT_DEFLATE_LEVEL = 6
TLS_RECORD = 16 * 1024  # the most plaintext one TLS record carries
# Framed, a chunk of n bytes takes at most 8 + 32 + n + n/6 (snappy's bound), and the first
# one also the 10-byte stream identifier: for 12 KiB that is 14,386 bytes, inside a record.
SNAPPY_CHUNK = 12 * 1024


class CompressionError(ValueError):
    """The client's bytes do not decompress: the connection cannot go on."""


class Codec(Protocol):
    name: str

    def decode(self, data: bytes) -> bytes:
        """What the client sent, decompressed (possibly empty while a frame is incomplete)."""

    def encode(self, data: bytes) -> bytes:
        """`data` compressed and flushed, ready for the wire."""


class Deflate:
    name = "deflate"

    def __init__(self, level: int) -> None:
        self.level = level
        self._in = zlib.decompressobj(-zlib.MAX_WBITS)
        self._out = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)

    def decode(self, data: bytes) -> bytes:
        try:
            return self._in.decompress(data)
        except zlib.error as exc:
            raise CompressionError(f"deflate: {exc}") from exc

    def encode(self, data: bytes) -> bytes:
        return self._out.compress(data) + self._out.flush(zlib.Z_SYNC_FLUSH)


class Snappy:
    name = "snappy"

    def __init__(self) -> None:
        self._in = snappy.StreamDecompressor()
        self._out = snappy.StreamCompressor()

    def decode(self, data: bytes) -> bytes:
        try:
            return self._in.decompress(data)
        except Exception as exc:  # python-snappy raises its own and cramjam's errors
            raise CompressionError(f"snappy: {exc}") from exc

    def encode(self, data: bytes) -> bytes:
        return b"".join(self.encode_chunks(data))

    def encode_chunks(self, data: bytes) -> list[bytes]:
        """`data` framed in chunks of at most SNAPPY_CHUNK uncompressed bytes, one a string."""
        if len(data) <= SNAPPY_CHUNK:
            return [self._out.compress(data)]
        return [self._out.compress(data[at:at + SNAPPY_CHUNK])
                for at in range(0, len(data), SNAPPY_CHUNK)]


def tls_records(chunks: list[bytes]) -> list[bytes]:
    """Whole chunks joined, in order, into strings of at most TLS_RECORD bytes: each string
    written on its own becomes one TLS record holding only whole chunks."""
    records: list[bytes] = []
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        if pending and size + len(chunk) > TLS_RECORD:
            records.append(b"".join(pending))
            pending, size = [], 0
        pending.append(chunk)
        size += len(chunk)
    if pending:
        records.append(b"".join(pending))
    return records


def deflate_level(asked: int, max_level: int) -> int:
    """nsqd's rule: the client's level (6 when it names none), never above the maximum."""
    return min(asked if asked > 0 else DEFAULT_DEFLATE_LEVEL, max_level)
