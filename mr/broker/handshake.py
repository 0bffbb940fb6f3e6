"""Setting a client connection up: IDENTIFY and the upgrades it agrees on, and AUTH.

The part of the TCP side's ClientConnection that runs before a client publishes or
subscribes, apart from the command loop: the IDENTIFY response goes out as it is, then, as
in nsqd, TLS first (mr/broker/tls.py), then deflate or snappy inside it
(mr/broker/compress.py), each upgrade confirmed by an OK sent over the upgraded stream.
With --auth-http-address, AUTH asks the auth server (mr/broker/auth.py) and PUB, MPUB, DPUB
and SUB need its authorization; while the auth server is being asked the connection reads
nothing, so commands keep their order.
"""
from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mr.broker import auth, tls
from mr.broker.checks import quoted
from mr.broker.compress import Codec, CompressionError, Deflate, Snappy, tls_records
from mr.broker.identify import IdentifyError, negotiate
from mr.broker.options import Options
from mr.broker.protocol import FRAME_RESPONSE, OK, ClientError, FatalClientError, frame

log = logging.getLogger("mr.broker")


AUTH_GATED_COMMANDS = (b"SUB", b"PUB", b"MPUB", b"DPUB")


class Handshake:
    """IDENTIFY, the TLS and compression upgrades, the byte-level codec they leave, AUTH.

    Mixed into mr.broker.tcp.ClientConnection, whose output buffer (_write, _flush), command
    loop (_run), errors (_error) and close it uses.
    """

    opts: Options
    remote_address: str
    transport: asyncio.Transport | None
    _loop: asyncio.AbstractEventLoop
    _tls_context: ssl.SSLContext | None
    _closing: bool

    if TYPE_CHECKING:  # ClientConnection's, as it defines them
        def close(self) -> None: ...

        def connection_lost(self, exc: Exception | None) -> None: ...

        def _write(self, data: bytes) -> None: ...

        def _flush(self) -> None: ...

        def _run(self) -> None: ...

        def _error(self, err: ClientError) -> None: ...

        def _arm_heartbeat(self) -> None: ...

    @property
    def _connected(self) -> asyncio.Transport:
        """The transport of a connection that reads commands (it has one from the start)."""
        if self.transport is None:
            raise ConnectionError(f"[{self.remote_address}] not connected")
        return self.transport

    def _init_handshake(self) -> None:
        self.tls = self._suspended = False  # suspended: TLS handshake or auth server
        self._tls_gate = self.opts.tls_required != "false"  # until this connection is TLS
        self.codec: Codec | None = None
        self._next_codec: Codec | None = None  # agreed, started once TLS (if any) is up
        self.auth_required = bool(self.opts.auth_http_addresses)
        self.auth_state: auth.AuthState | None = None
        self._auth_secret = ""

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

    def _encode(self, data: bytes | bytearray) -> Sequence[bytes | bytearray]:
        """`data` as it goes on the wire, in writes that must each be a write of their own."""
        if self.codec is None:
            return [data]
        if self.tls and isinstance(self.codec, Snappy):
            return tls_records(self.codec.encode_chunks(bytes(data)))
        return [self.codec.encode(bytes(data))]

    def IDENTIFY(self, params: list[bytes], body: bytes) -> bytes | None:
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError:
            raise FatalClientError("E_BAD_BODY", "IDENTIFY failed to decode JSON body") from None
        try:
            result = negotiate(data, self.opts, tls_offered=self._tls_context is not None,
                               auth_required=self.auth_required)
        except IdentifyError as err:
            raise FatalClientError(err.code, str(err)) from err
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
        assert self._tls_context is not None  # negotiate() agrees to TLS only when offered
        self._suspended = True
        self._connected.pause_reading()
        self._loop.create_task(tls.upgrade(self, self._tls_context))
        return None

    def tls_established(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.tls, self._suspended, self._tls_gate = True, False, False
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

    # -- AUTH --------------------------------------------------------------------------------
    @property
    def authed(self) -> bool:
        return self.auth_state is not None and bool(self.auth_state.authorizations)

    def AUTH(self, params: list[bytes], body: bytes) -> None:
        if self.authed:
            raise FatalClientError("E_INVALID", "AUTH already set")
        if not self.auth_required:
            raise FatalClientError("E_AUTH_DISABLED", "AUTH disabled")
        self._auth_secret = body.decode(errors="replace")
        self._ask_auth_server(answer=True)
        return None

    def auth_expired(self, command: bytes) -> bool:
        """Whether `command` must wait for the auth server to be asked again (TTL passed);
        if so, it is being asked and the command loop stops until the answer."""
        state = self.auth_state
        if command not in AUTH_GATED_COMMANDS or state is None or not self.authed \
                or not state.expired:
            return False
        self._ask_auth_server(answer=False)
        return True

    def authorize(self, command: str, topic: str, channel: str = "") -> None:
        """nsqd's CheckAuth: may this connection publish to `topic` (or subscribe)?"""
        if not self.auth_required:
            return
        state = self.auth_state
        if state is None or not self.authed:
            raise FatalClientError("E_AUTH_FIRST", f"AUTH required before {command}")
        if not state.allows(topic, channel):
            raise FatalClientError("E_UNAUTHORIZED", f"AUTH failed for {command} on "
                                                     f"{quoted(topic)} {quoted(channel)}")

    def _ask_auth_server(self, answer: bool) -> None:
        self._suspended = True
        self._connected.pause_reading()
        self._loop.create_task(self._query_auth(answer))

    async def _query_auth(self, answer: bool) -> None:
        """Ask the auth server; `answer`: reply to AUTH (else a TTL refresh, silent)."""
        try:
            state = await auth.query(
                self.opts.auth_http_addresses, self.remote_address.rpartition(":")[0],
                self.tls, tls.common_name(self.transport), self._auth_secret,
                self.opts.http_client_connect_timeout, self.opts.http_client_request_timeout)
        except auth.AuthError as err:
            # the reason is logged, never sent: clients must not learn about the auth server
            log.warning("PROTOCOL(V2): [%s] AUTH failed %s", self.remote_address, err)
            if not self._closing:
                self._error(FatalClientError("E_AUTH_FAILED", "AUTH failed"))
            return
        if self._closing:
            return
        self.auth_state = state
        if answer:
            if not self.authed:
                return self._error(FatalClientError("E_UNAUTHORIZED",
                                                    "AUTH no authorizations found"))
            self._write(frame(FRAME_RESPONSE, json.dumps({
                "identity": state.identity, "identity_url": state.identity_url,
                "permission_count": len(state.authorizations)},
                separators=(",", ":")).encode()))
        self._suspended = False
        self._connected.resume_reading()
        self._run()
