"""Wire-level pieces of nsqd's TCP protocol V2, as pure functions.

Everything here is independent of sockets and event loops so it can be unit-tested:
frame encoding, the error types that map to nsqd's error codes, name rules and the
strict base-10 parsing nsqd applies to numeric command parameters.
"""
from __future__ import annotations

import re
import struct

MAGIC_V2 = b"  V2"

FRAME_RESPONSE = 0
FRAME_ERROR = 1
FRAME_MESSAGE = 2

OK = b"OK"
HEARTBEAT = b"_heartbeat_"
CLOSE_WAIT = b"CLOSE_WAIT"

MSG_ID_LENGTH = 16
# timestamp (8) + attempts (2) + id (16): the fixed prefix of every message frame body.
MSG_HEADER = struct.Struct(">qH")
MIN_MESSAGE_LENGTH = MSG_HEADER.size + MSG_ID_LENGTH

_FRAME_HEADER = struct.Struct(">ii")
_MESSAGE_FRAME_HEADER = struct.Struct(">iiqH")
_LENGTH = struct.Struct(">i")

_NAME_RE = re.compile(r"^[.a-zA-Z0-9_-]+(#ephemeral)?$")
EPHEMERAL_SUFFIX = "#ephemeral"


class ClientError(Exception):
    """An error reported to the client in an error frame; the connection stays open."""

    fatal = False

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description

    def frame_body(self) -> bytes:
        return f"{self.code} {self.description}".encode()


class FatalClientError(ClientError):
    """An error after which nsqd closes the connection (protocol state is unknowable)."""

    fatal = True


def frame(frame_type: int, data: bytes) -> bytes:
    """One framed response: size (of type + data), frame type, data."""
    return _FRAME_HEADER.pack(len(data) + 4, frame_type) + data


def message_frame(timestamp: int, attempts: int, msg_id: bytes, body: bytes) -> bytes:
    """A message frame: the frame header followed by the message's wire encoding."""
    return (_MESSAGE_FRAME_HEADER.pack(len(body) + MIN_MESSAGE_LENGTH + 4, FRAME_MESSAGE,
                                       timestamp, attempts) + msg_id + body)


def pack_length(n: int) -> bytes:
    return _LENGTH.pack(n)


def unpack_length(data: bytes | bytearray, offset: int = 0) -> int:
    """A signed big-endian 32-bit length, as nsqd reads body sizes (negative stays negative)."""
    return _LENGTH.unpack_from(data, offset)[0]


def is_valid_name(name: str) -> bool:
    """nsqd's rule for topic and channel names: 1-64 of [.a-zA-Z0-9_-], optional #ephemeral."""
    return 1 <= len(name) <= 64 and _NAME_RE.match(name) is not None


def is_ephemeral(name: str) -> bool:
    return name.endswith(EPHEMERAL_SUFFIX)


def parse_base10(raw: bytes) -> int:
    """Digits only, as nsqd's ByteToBase10: no sign, no spaces; empty means 0."""
    if raw and not raw.isdigit():
        raise ValueError("failed to convert to Base10")
    return int(raw) if raw else 0


def decode_mpub(body: bytes, max_msg_size: int, max_body_size: int) -> list[bytes]:
    """Split an MPUB body (count, then size-prefixed messages) into message bodies.

    Raises FatalClientError with the code nsqd uses for each malformed part.
    """
    if len(body) < 4:
        raise FatalClientError("E_BAD_BODY", "MPUB failed to read message count")
    count = unpack_length(body)
    max_messages = (max_body_size - 4) // 5
    if count <= 0 or count > max_messages:
        raise FatalClientError("E_BAD_BODY", f"MPUB invalid message count {count}")
    messages = []
    pos = 4
    end = len(body)
    for i in range(count):
        if pos + 4 > end:
            raise FatalClientError("E_BAD_MESSAGE", f"MPUB failed to read message({i}) body size")
        size = _LENGTH.unpack_from(body, pos)[0]
        pos += 4
        if size <= 0:
            raise FatalClientError("E_BAD_MESSAGE", f"MPUB invalid message({i}) body size {size}")
        if size > max_msg_size:
            raise FatalClientError("E_BAD_MESSAGE",
                                   f"MPUB message too big {size} > {max_msg_size}")
        if pos + size > end:
            raise FatalClientError("E_BAD_MESSAGE", "MPUB failed to read message body")
        messages.append(body[pos:pos + size])
        pos += size
    return messages


def encode_mpub(bodies: list[bytes]) -> bytes:
    """The MPUB body for a list of messages (used by tests and the benchmark)."""
    parts = [pack_length(len(bodies))]
    for body in bodies:
        parts.append(pack_length(len(body)))
        parts.append(body)
    return b"".join(parts)
