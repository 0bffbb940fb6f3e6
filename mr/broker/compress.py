"""Compression of a client connection's stream, negotiated in IDENTIFY as nsqd does.

Both directions of the connection are compressed from the OK that follows the IDENTIFY
response (after the TLS upgrade when both are asked for: compression runs inside TLS).
Deflate is raw deflate (no zlib header) at the level the client asked for, capped by
--max-deflate-level, with a sync flush after each write so a frame is never held back;
snappy is snappy's framing format, as Go's snappy reader and writer (and python-snappy,
which pynsq uses) speak it.
"""
from __future__ import annotations

import zlib
from typing import Protocol

import snappy

DEFAULT_DEFLATE_LEVEL = 6


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
        return self._out.compress(data)


def deflate_level(asked: int, max_level: int) -> int:
    """nsqd's rule: the client's level (6 when it names none), never above the maximum."""
    return min(asked if asked > 0 else DEFAULT_DEFLATE_LEVEL, max_level)
