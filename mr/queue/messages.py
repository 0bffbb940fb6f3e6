"""The message schema: a small msgpack map that names an invocation; etcd holds the rest.

    {"v": 1, "w": <workflow>, "r": <request id>, "i": <invocation id>}

Never pickle: anyone who can publish to a topic must not be able to run code.
"""
from __future__ import annotations

from dataclasses import dataclass

import msgpack

VERSION = 1


class BadMessage(ValueError):
    """A message body this engine did not write; it is dropped (FINished) and logged."""


@dataclass(frozen=True, slots=True)
class InvocationMessage:
    workflow: str
    request_id: str
    invocation_id: str


def encode(workflow: str, request_id: str, invocation_id: str) -> bytes:
    return msgpack.packb({"v": VERSION, "w": workflow, "r": request_id, "i": invocation_id})


def decode(body: bytes) -> InvocationMessage:
    try:
        raw = msgpack.unpackb(body, raw=False)
        if raw.get("v") != VERSION:
            raise BadMessage(f"unknown message version {raw.get('v')!r}")
        fields = (raw["w"], raw["r"], raw["i"])
    except BadMessage:
        raise
    except Exception as exc:
        raise BadMessage(f"undecodable message ({exc.__class__.__name__}: {exc})") from None
    if not all(isinstance(f, str) and f for f in fields):
        raise BadMessage("message fields must be non-empty strings")
    return InvocationMessage(*fields)
