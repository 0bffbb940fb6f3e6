"""The message schema: a small msgpack map that names an invocation; etcd holds the rest.

    {"v": 1, "w": <workflow>, "r": <request id>, "i": <invocation id>,
     "m": <mod revision>, "d": <record>}

"m" and "d" are optional: the invocation's record as it was created, and the revision that
created it. With them a worker claims the invocation in one etcd transaction, which holds
only if the record in etcd is still exactly that one (so a message cannot smuggle in a record
of its own); without them, or when the claim fails, it reads the record first. Records over
MAX_RECORD_BYTES are not carried (a batch of child messages must fit one MPUB).

Never pickle: anyone who can publish to a topic must not be able to run code.
"""
from __future__ import annotations

from dataclasses import dataclass

import msgpack

VERSION = 1
MAX_RECORD_BYTES = 2048


class BadMessage(ValueError):
    """A message body this engine did not write; it is dropped (FINished) and logged."""


@dataclass(frozen=True, slots=True)
class InvocationMessage:
    workflow: str
    request_id: str
    invocation_id: str
    revision: int = 0            # the revision that created `record` (0: not carried)
    record: bytes | None = None  # the invocation's record as created


def encode(workflow: str, request_id: str, invocation_id: str, revision: int = 0,
           record: bytes | None = None) -> bytes:
    body = {"v": VERSION, "w": workflow, "r": request_id, "i": invocation_id}
    if revision > 0 and record is not None and len(record) <= MAX_RECORD_BYTES:
        body["m"], body["d"] = revision, record
    return msgpack.packb(body)


def decode(body: bytes) -> InvocationMessage:
    try:
        raw = msgpack.unpackb(body, raw=False)
        if raw.get("v") != VERSION:
            raise BadMessage(f"unknown message version {raw.get('v')!r}")
        fields = (raw["w"], raw["r"], raw["i"])
        revision, record = raw.get("m", 0), raw.get("d")
    except BadMessage:
        raise
    except Exception as exc:
        raise BadMessage(f"undecodable message ({exc.__class__.__name__}: {exc})") from None
    if not all(isinstance(f, str) and f for f in fields):
        raise BadMessage("message fields must be non-empty strings")
    if record is not None and not (isinstance(record, bytes) and type(revision) is int
                                   and revision > 0):
        raise BadMessage("a message's record must be bytes with a positive revision")
    return InvocationMessage(*fields, revision if record is not None else 0, record)
