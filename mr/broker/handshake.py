"""Setting a client connection up: IDENTIFY and the upgrades it agrees on.

The part of the TCP side's ClientConnection that runs before a client publishes or
subscribes, apart from the command loop: the IDENTIFY response goes out as it is, then, as
in nsqd, TLS first (mr/broker/tls.py), then deflate or snappy inside it
(mr/broker/compress.py), each upgrade confirmed by an OK sent over the upgraded stream.
"""
from __future__ import annotations

import asyncio
import json
import logging
import ssl

from mr.broker import tls
from mr.broker.compress import Codec, CompressionError, Deflate, Snappy
from mr.broker.identify import IdentifyError, negotiate
from mr.broker.options import Options
from mr.broker.protocol import FRAME_RESPONSE, OK, FatalClientError, frame

log = logging.getLogger("mr.broker")


class Handshake:
    """IDENTIFY, the TLS and compression upgrades, and the byte-level codec they leave."""

    opts: Options
    remote_address: str
    transport: asyncio.Transport | None
    _loop: asyncio.AbstractEventLoop
    _tls_context: ssl.SSLContext | None

    def _init_handshake(self) -> None:
        self.tls = self._upgrading = False
        self._tls_gate = self.opts.tls_required != "false"  # until this connection is TLS
        self.codec: Codec | None = None
        self._next_codec: Codec | None = None  # agreed, started once TLS (if any) is up
        self.auth_required = False

    def _decode(self, data: bytes) -> bytes | None:
        """Bytes from the wire as the command loop reads them; None: the connection is done."""
        if self.codec is None:
            return data
        try:
            return self.codec.decode(data)
        except CompressionError as err:
            log.error("[%s] - %s, closing connection", self.remote_address, err)
            self.close()
            return None

    def _encode(self, data: bytes | bytearray) -> bytes | bytearray:
        return data if self.codec is None else self.codec.encode(bytes(data))

    def IDENTIFY(self, params: list[bytes], body: bytes) -> bytes | None:
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError:
            raise FatalClientError("E_BAD_BODY", "IDENTIFY failed to decode JSON body")
        try:
            result = negotiate(data, self.opts, tls_offered=self._tls_context is not None,
                               auth_required=self.auth_required)
        except IdentifyError as err:
            raise FatalClientError(err.code, str(err))
        log.info("[%s] IDENTIFY: %s", self.remote_address, data)
        self.client_id = result.client_id or ""
        self.hostname = result.hostname
        self.user_agent = result.user_agent
        self.heartbeat_interval = result.heartbeat_interval
        self.output_buffer_size = result.output_buffer_size
        self.output_buffer_timeout = result.output_buffer_timeout
        self.sample_rate = result.sample_rate
        self.msg_timeout = result.msg_timeout
        self._arm_heartbeat()
        if result.snappy:
            self._next_codec = Snappy()
        elif result.deflate_level:
            self._next_codec = Deflate(result.deflate_level)
        if not result.tls_v1 and self._next_codec is None:
            return result.response
        self._write(frame(FRAME_RESPONSE, result.response))
        self._flush()  # as it is; what follows goes over the upgraded stream
        if not result.tls_v1:
            self._start_compression()
            return None
        self._upgrading = True
        self.transport.pause_reading()
        self._loop.create_task(tls.upgrade(self, self._tls_context))
        return None

    def tls_established(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.tls, self._upgrading, self._tls_gate = True, False, False
        self._write(frame(FRAME_RESPONSE, OK))
        self._start_compression()

    def _start_compression(self) -> None:
        codec, self._next_codec = self._next_codec, None
        if codec is None:
            return
        self._flush()
        name = f"deflate (level {codec.level})" if isinstance(codec, Deflate) else codec.name
        log.info("PROTOCOL(V2): [%s] upgrading connection to %s", self.remote_address, name)
        self.codec = codec
        self._write(frame(FRAME_RESPONSE, OK))
