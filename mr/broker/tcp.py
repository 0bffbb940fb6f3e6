"""One TCP client connection speaking nsqd's protocol V2.

Commands are parsed straight out of the receive buffer (no per-command coroutine) and
replies are collected in an output buffer flushed once per event-loop iteration, which
keeps system calls per message low. Validation order and error texts follow nsqd's
protocol_v2.go, because clients match on them.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from functools import partial

from mr.broker import checks, tls
from mr.broker.channel import Channel
from mr.broker.checks import invalid, quoted
from mr.broker.core import BrokerCore
from mr.broker.handshake import Handshake
from mr.broker.message import Message
from mr.broker.protocol import (
    CLOSE_WAIT,
    FRAME_ERROR,
    FRAME_RESPONSE,
    HEARTBEAT,
    MAGIC_V2,
    MSG_ID_LENGTH,
    OK,
    ClientError,
    FatalClientError,
    decode_mpub,
    frame,
    is_valid_name,
    message_frame,
    parse_base10,
    unpack_length,
)

log = logging.getLogger("mr.broker")

STATE_INIT = 0
STATE_SUBSCRIBED = 3
STATE_CLOSING = 4
_MAX_LINE = 64 * 1024  # nsqd's bufio reader fails a command line longer than its buffer


# A command with a body: the check of its line, the check of its body's size, and the command.
_BodyCommand = tuple[Callable[[list[bytes]], object], Callable[[list[bytes], int], object],
                     Callable[[list[bytes], bytes], bytes | None]]


class ClientConnection(Handshake, asyncio.Protocol):
    """A client of the broker's core: a consumer of one channel (see `Consumer`), a producer,
    or both; `tls_context` is None unless the broker offers TLS."""

    def __init__(self, broker: BrokerCore, tls_context: ssl.SSLContext | None) -> None:
        self.broker = broker
        opts = broker.options
        self.opts = opts
        self.id = broker.next_client_id()
        self.state = STATE_INIT
        self.rdy = 0
        self.in_flight: dict[bytes, Message] = {}
        self.channel: Channel | None = None
        self.msg_timeout = opts.msg_timeout
        self.heartbeat_interval = opts.client_timeout / 2
        self.output_buffer_size = 16 * 1024
        self.output_buffer_timeout = opts.output_buffer_timeout
        self.sample_rate = 0
        self.client_id = self.hostname = self.user_agent = ""
        self.remote_address = ""
        self.connect_ts = int(time.time())
        self.message_count = self.finish_count = self.requeue_count = 0
        self.pub_counts: dict[str, int] = {}
        self.transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._buf = bytearray()
        self._out = bytearray()
        self._magic_ok = False
        self._pending: tuple[Callable, list[bytes], int] | None = None
        self._closing = False
        self._pump = False
        self._last_read = time.monotonic()
        self._heartbeat_handle: asyncio.TimerHandle | None = None
        self._tls_context = tls_context
        self._init_handshake()
        self._commands: dict[bytes, Callable[[list[bytes]], bytes | None]] = {
            b"FIN": self.FIN, b"RDY": self.RDY, b"REQ": self.REQ, b"TOUCH": self.TOUCH,
            b"NOP": self.NOP, b"SUB": self.SUB, b"CLS": self.CLS,
        }
        self._body_commands: dict[bytes, _BodyCommand] = {
            b"PUB": (partial(checks.pub, opts=opts), partial(checks.message_size, opts=opts),
                     self.PUB),
            b"MPUB": (partial(checks.mpub, opts=opts), partial(checks.mpub_size, opts=opts),
                      self.MPUB),
            b"DPUB": (partial(checks.dpub, opts=opts), partial(checks.message_size, opts=opts),
                      self.DPUB),
            b"IDENTIFY": (self._check_identify, partial(checks.body_size, opts=opts),
                          self.IDENTIFY),
            b"AUTH": (self._check_auth, partial(checks.body_size, opts=opts), self.AUTH),
        }

    @property
    def subscribed(self) -> bool:
        return self.state == STATE_SUBSCRIBED

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio names a BaseTransport; a stream connection is always given a Transport
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername") or ("", 0)
        self.remote_address = f"{peer[0]}:{peer[1]}"
        self.client_id = self.hostname = peer[0]
        self.broker.clients.add(self)
        log.info("TCP: new client(%s)", self.remote_address)
        self._arm_heartbeat()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._heartbeat_handle is not None:
            self._heartbeat_handle.cancel()
        if self.channel is not None:
            self.channel.remove_client(self)
        self.broker.clients.discard(self)
        log.info("PROTOCOL(V2): [%s] exiting ioloop%s", self.remote_address,
                 f" - {exc}" if exc else "")

    def data_received(self, data: bytes) -> None:
        self._last_read = time.monotonic()
        if self._closing:
            return
        decoded = self._decode(data)
        if decoded is None:
            return
        self._buf += decoded
        if not self._magic_ok:
            if len(self._buf) < 4:
                return
            magic = bytes(self._buf[:4])
            del self._buf[:4]
            if magic != MAGIC_V2:
                log.error("client(%s) bad protocol magic %r", self.remote_address, magic)
                self._write(frame(FRAME_ERROR, b"E_BAD_PROTOCOL"))
                self.close()
                return
            self._magic_ok = True
        self._run()

    def _run(self) -> None:
        """Run the commands received so far, then deliver what they made room for."""
        self._process()
        if self._pump and self.channel is not None:
            self._pump = False
            self.channel.pump()

    # -- command parsing ---------------------------------------------------------------------
    def _process(self) -> None:
        buf = self._buf
        pos = 0
        try:
            while not self._closing and not self._suspended:
                try:
                    if self._pending is not None:
                        handler, params, size = self._pending
                        if len(buf) - pos < size:
                            break
                        body = bytes(buf[pos:pos + size])
                        pos += size
                        self._pending = None
                        self._reply(handler(params, body))
                        continue
                    nl = buf.find(b"\n", pos)
                    if nl < 0:
                        if len(buf) - pos > _MAX_LINE:
                            raise invalid("command line too long")
                        break
                    line = bytes(buf[pos:nl])
                    if line.endswith(b"\r"):
                        line = line[:-1]
                    params = line.split(b" ")
                    if self._tls_gate and params[0] in tls.GATED_COMMANDS:
                        pos = nl + 1  # the refusal closes the connection
                        raise tls.refusal(params[0])
                    if self.auth_state is not None and self.auth_expired(params[0]):
                        break  # the line is parsed again once the auth server has answered
                    command = self._commands.get(params[0])
                    if command is not None:
                        pos = nl + 1
                        self._reply(command(params))
                        continue
                    spec = self._body_commands.get(params[0])
                    if spec is None:
                        pos = nl + 1
                        raise invalid(f"invalid command {params[0].decode(errors='replace')}")
                    check, check_size, handler = spec
                    check(params)
                    if len(buf) - nl - 1 < 4:
                        break  # wait for the body size; the line is parsed again then
                    size = unpack_length(buf, nl + 1)
                    pos = nl + 5
                    check_size(params, size)
                    self._pending = (handler, params, size)
                except ClientError as err:
                    self._error(err)
        finally:
            del buf[:pos]

    def _reply(self, response: bytes | None) -> None:
        if response is not None:
            self._write(frame(FRAME_RESPONSE, response))

    def _error(self, err: ClientError) -> None:
        log.error("[%s] - %s", self.remote_address, err)
        self._write(frame(FRAME_ERROR, err.frame_body()))
        if err.fatal:
            self.close()

    # -- output ------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out += data

    def _flush(self) -> None:
        if self._out and self.transport is not None and not self.transport.is_closing():
            for data in self._encode(self._out):
                self.transport.write(data)
        self._out = bytearray()

    def send_message(self, message: Message) -> None:
        self.message_count += 1
        self._write(message_frame(message.timestamp, message.attempts, message.id, message.body))

    def close(self) -> None:
        """Flush what is pending and close (fatal error, channel deleted, shutdown)."""
        self._closing = True
        self._flush()
        if self.transport is not None:
            self.transport.close()

    # -- heartbeats --------------------------------------------------------------------------
    def _arm_heartbeat(self) -> None:
        if self._heartbeat_handle is not None:
            self._heartbeat_handle.cancel()
            self._heartbeat_handle = None
        if self.heartbeat_interval > 0:
            self._heartbeat_handle = self._loop.call_later(self.heartbeat_interval,
                                                           self._heartbeat)

    def _heartbeat(self) -> None:
        """Send a heartbeat; drop a client silent for two intervals (it missed two)."""
        if time.monotonic() - self._last_read >= 2 * self.heartbeat_interval:
            log.error("[%s] - missed heartbeats, closing connection", self.remote_address)
            self.close()
            return
        self._write(frame(FRAME_RESPONSE, HEARTBEAT))
        self._arm_heartbeat()

    # -- commands without a body -------------------------------------------------------------
    def _message_id(self, raw: bytes) -> bytes:
        if len(raw) != MSG_ID_LENGTH:
            raise invalid("invalid message ID")
        return raw

    def _require_consuming(self, name: str) -> Channel:
        """The channel this connection consumes; refused unless it is subscribed."""
        if self.state not in (STATE_SUBSCRIBED, STATE_CLOSING) or self.channel is None:
            raise invalid(f"cannot {name} in current state")
        return self.channel

    def NOP(self, params: list[bytes]) -> None:
        return None

    def RDY(self, params: list[bytes]) -> None:
        if self.state == STATE_CLOSING:
            return None
        if self.state != STATE_SUBSCRIBED:
            raise invalid("cannot RDY in current state")
        count = 1
        if len(params) > 1:
            try:
                count = parse_base10(params[1])
            except ValueError:
                raise invalid(f"RDY could not parse count "
                              f"{params[1].decode(errors='replace')}") from None
        if count > self.opts.max_rdy_count:
            raise invalid(f"RDY count {count} out of range 0-{self.opts.max_rdy_count}")
        self.rdy = count
        self._pump = True
        return None

    def FIN(self, params: list[bytes]) -> None:
        channel = self._require_consuming("FIN")
        if len(params) < 2:
            raise invalid("FIN insufficient number of params")
        msg_id = self._message_id(params[1])
        try:
            channel.finish(self, msg_id)
        except LookupError as err:
            raise ClientError("E_FIN_FAILED", f"FIN {msg_id.decode()} failed {err}") from err
        self.finish_count += 1
        self._pump = True
        return None

    def REQ(self, params: list[bytes]) -> None:
        channel = self._require_consuming("REQ")
        if len(params) < 3:
            raise invalid("REQ insufficient number of params")
        msg_id = self._message_id(params[1])
        try:
            delay_ms = parse_base10(params[2])
        except ValueError:
            raise invalid(f"REQ could not parse timeout "
                          f"{params[2].decode(errors='replace')}") from None
        delay = min(delay_ms / 1000.0, self.opts.max_req_timeout)
        try:
            channel.requeue(self, msg_id, delay)
        except LookupError as err:
            raise ClientError("E_REQ_FAILED", f"REQ {msg_id.decode()} failed {err}") from err
        self.requeue_count += 1
        self._pump = True
        return None

    def TOUCH(self, params: list[bytes]) -> None:
        channel = self._require_consuming("TOUCH")
        if len(params) < 2:
            raise invalid("TOUCH insufficient number of params")
        msg_id = self._message_id(params[1])
        try:
            channel.touch(self, msg_id)
        except LookupError as err:
            raise ClientError("E_TOUCH_FAILED", f"TOUCH {msg_id.decode()} failed {err}") from err
        return None

    def CLS(self, params: list[bytes]) -> bytes:
        if self.state != STATE_SUBSCRIBED:
            raise invalid("cannot CLS in current state")
        self.rdy = 0
        self.state = STATE_CLOSING
        return CLOSE_WAIT

    def SUB(self, params: list[bytes]) -> bytes:
        if self.state != STATE_INIT:
            raise invalid("cannot SUB in current state")
        if self.heartbeat_interval <= 0:
            raise invalid("cannot SUB with heartbeats disabled")
        if len(params) < 3:
            raise invalid("SUB insufficient number of parameters")
        topic_name = params[1].decode(errors="replace")
        if not is_valid_name(topic_name):
            raise FatalClientError("E_BAD_TOPIC",
                                   f"SUB topic name {quoted(topic_name)} is not valid")
        channel_name = params[2].decode(errors="replace")
        if not is_valid_name(channel_name):
            raise FatalClientError("E_BAD_CHANNEL",
                                   f"SUB channel name {quoted(channel_name)} is not valid")
        self.authorize("SUB", topic_name, channel_name)
        channel = self.broker.get_topic(topic_name).get_channel(channel_name)
        limit = self.opts.max_channel_consumers
        if limit and len(channel.clients) >= limit:
            raise FatalClientError("E_SUB_FAILED", f"SUB failed consumers for {topic_name}:"
                                                   f"{channel_name} exceeds limit of {limit}")
        channel.add_client(self)
        self.channel = channel
        self.state = STATE_SUBSCRIBED
        return OK

    # -- commands with a body: header check, size check, then the command itself -------------
    def _check_identify(self, params: list[bytes]) -> None:
        if self.state != STATE_INIT:
            raise invalid("cannot IDENTIFY in current state")

    def _check_auth(self, params: list[bytes]) -> None:
        if self.state != STATE_INIT:
            raise invalid("cannot AUTH in current state")
        if len(params) != 1:
            raise invalid("AUTH invalid number of parameters")

    def _publish(self, command: str, params: list[bytes], bodies: list[bytes],
                 delay: float = 0.0) -> bytes:
        topic_name = params[1].decode()
        self.authorize(command, topic_name)
        new_message = self.broker.new_message
        self.broker.get_topic(topic_name).put([new_message(b) for b in bodies], delay)
        self.pub_counts[topic_name] = self.pub_counts.get(topic_name, 0) + len(bodies)
        return OK

    def PUB(self, params: list[bytes], body: bytes) -> bytes:
        return self._publish("PUB", params, [body])

    def DPUB(self, params: list[bytes], body: bytes) -> bytes:
        return self._publish("DPUB", params, [body], int(params[2]) / 1000.0)

    def MPUB(self, params: list[bytes], body: bytes) -> bytes:
        bodies = decode_mpub(body, self.opts.max_msg_size, self.opts.max_body_size)
        return self._publish("MPUB", params, bodies)
