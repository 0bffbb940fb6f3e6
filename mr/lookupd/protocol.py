"""nsqlookupd's TCP protocol V1, independent of sockets: what nsqd sends and what it gets back.

After the 4-byte magic "  V1" a node sends text lines; IDENTIFY is followed by a 4-byte
big-endian length and a JSON body. Each reply is a 4-byte big-endian length and the data
("OK", the IDENTIFY JSON, or "E_CODE description"). Every error is fatal: the reply is sent,
then the connection is closed, and the node's registrations go with it.
"""
from __future__ import annotations

import json
import logging
import struct
import time
from typing import Any

from mr.broker.protocol import is_ephemeral, is_valid_name
from mr.lookupd.registry import PeerInfo, Producer, Registration, RegistrationDB

log = logging.getLogger("mr.lookupd")

MAGIC_V1 = b"  V1"
OK = b"OK"
BAD_PROTOCOL = b"E_BAD_PROTOCOL"
MAX_BODY = 1024 * 1024  # an IDENTIFY body is a few hundred bytes
_LENGTH = struct.Struct(">i")
CLIENT = Registration("client", "", "")


class ProtocolError(Exception):
    """A fatal protocol error: its text is sent to the node, then the connection closes."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code} {description}")
        self.code = code

    def reply(self) -> bytes:
        return response(str(self).encode())


def response(data: bytes) -> bytes:
    """One reply on the wire: length, then data."""
    return _LENGTH.pack(len(data)) + data


def body_length(header: bytes) -> int:
    return _LENGTH.unpack(header)[0]


def split_command(line: bytes) -> list[str]:
    """nsqlookupd trims the line and splits it on single spaces (empty fields stay)."""
    return line.decode("utf-8", errors="replace").strip().split(" ")


def _topic_and_channel(command: str, params: list[str]) -> tuple[str, str]:
    if not params:
        raise ProtocolError("E_INVALID", f"{command} insufficient number of params")
    topic = params[0]
    channel = params[1] if len(params) >= 2 else ""
    if not is_valid_name(topic):
        raise ProtocolError("E_BAD_TOPIC", f"{command} topic name '{topic}' is not valid")
    if channel and not is_valid_name(channel):
        raise ProtocolError("E_BAD_CHANNEL", f"{command} channel name '{channel}' is not valid")
    return topic, channel


def _peer_from_body(body: bytes, remote: str) -> PeerInfo:
    """The IDENTIFY body as a PeerInfo; types are checked as Go's json decoder would."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ProtocolError("E_BAD_BODY", "IDENTIFY failed to decode JSON body")
    fields: dict[str, Any] = {}  # PeerInfo's, each of its kind
    for name, kind in (("broadcast_address", str), ("hostname", str), ("version", str),
                       ("topology_zone", str), ("topology_region", str),
                       ("tcp_port", int), ("http_port", int)):
        value = data.get(name)
        if value is None:
            value = kind()
        elif not isinstance(value, kind) or isinstance(value, bool):
            raise ProtocolError("E_BAD_BODY", "IDENTIFY failed to decode JSON body")
        fields[name] = value
    peer = PeerInfo(id=remote, remote_address=remote, **fields)
    if not (peer.broadcast_address and peer.tcp_port and peer.http_port and peer.version):
        raise ProtocolError("E_BAD_BODY", "IDENTIFY missing fields")
    return peer


class Session:
    """One node's connection: what it identified as and what it registered."""

    def __init__(self, db: RegistrationDB, remote: str, identity: dict) -> None:
        self.db = db
        self.remote = remote
        self.identity = identity  # our IDENTIFY reply: ports, version, addresses
        self.peer: PeerInfo | None = None

    def check_identify(self) -> None:
        """IDENTIFY is refused before its body is read when the node already identified."""
        if self.peer is not None:
            raise ProtocolError("E_INVALID", "cannot IDENTIFY again")

    def identify(self, body: bytes) -> bytes:
        self.check_identify()
        peer = _peer_from_body(body, self.remote)
        log.info("CLIENT(%s): IDENTIFY Address:%s TCP:%d HTTP:%d Version:%s", self.remote,
                 peer.broadcast_address, peer.tcp_port, peer.http_port, peer.version)
        self.peer = peer
        self._add(CLIENT)
        return json.dumps(self.identity, sort_keys=True, separators=(",", ":")).encode()

    def execute(self, params: list[str]) -> bytes:
        """Reply to PING, REGISTER or UNREGISTER (IDENTIFY needs its body: see identify)."""
        command = params[0]
        if command == "PING":
            if self.peer is not None:
                self.peer.last_update = time.monotonic()
            return OK
        if command in ("REGISTER", "UNREGISTER"):
            self._identified()
            topic, channel = _topic_and_channel(command, params[1:])
            if command == "REGISTER":
                self._register(topic, channel)
            else:
                self._unregister(topic, channel)
            return OK
        raise ProtocolError("E_INVALID", f"invalid command {command}")

    def close(self) -> None:
        """The connection ended: the node no longer produces anything here."""
        if self.peer is None:
            return
        for reg in self.db.lookup_registrations(self.peer.id):
            if self.db.remove_producer(reg, self.peer.id)[0]:
                self._log("UNREGISTER", reg)

    # -- registrations ----------------------------------------------------------------------
    def _identified(self) -> PeerInfo:
        if self.peer is None:
            raise ProtocolError("E_INVALID", "client must IDENTIFY")
        return self.peer

    def _add(self, reg: Registration) -> None:
        if self.db.add_producer(reg, Producer(self._identified())):
            self._log("REGISTER", reg)

    def _register(self, topic: str, channel: str) -> None:
        if channel:
            self._add(Registration("channel", topic, channel))
        self._add(Registration("topic", topic, ""))

    def _unregister(self, topic: str, channel: str) -> None:
        peer_id = self._identified().id
        if channel:
            reg = Registration("channel", topic, channel)
            removed, left = self.db.remove_producer(reg, peer_id)
            if removed:
                self._log("UNREGISTER", reg)
            if left == 0 and is_ephemeral(channel):
                self.db.remove_registration(reg)
            return
        # A topic going away takes this node's channels of it too.
        for reg in self.db.find_registrations("channel", topic, "*"):
            if self.db.remove_producer(reg, peer_id)[0]:
                log.warning("client(%s) unexpected UNREGISTER category:channel key:%s subkey:%s",
                            self.remote, topic, reg.subkey)
        reg = Registration("topic", topic, "")
        removed, left = self.db.remove_producer(reg, peer_id)
        if removed:
            self._log("UNREGISTER", reg)
        if left == 0 and is_ephemeral(topic):
            self.db.remove_registration(reg)

    def _log(self, what: str, reg: Registration) -> None:
        log.info("DB: client(%s) %s category:%s key:%s subkey:%s", self.remote, what,
                 reg.category, reg.key, reg.subkey)
