"""Checks nsqd makes on a command with a body before reading that body.

They run on the command line and the 4-byte size alone, so an invalid or oversize command
is refused (and the connection closed) without waiting for or buffering its body.
"""
from __future__ import annotations

import json

from mr.broker.options import Options
from mr.broker.protocol import FatalClientError, is_valid_name, parse_base10


def invalid(text: str) -> FatalClientError:
    return FatalClientError("E_INVALID", text)


def quoted(name: str) -> str:
    return json.dumps(name)  # close to Go's %q for the names clients send


def body_size(params: list[bytes], size: int, opts: Options) -> None:
    name = params[0].decode()
    if size > opts.max_body_size:
        raise FatalClientError("E_BAD_BODY",
                               f"{name} body too big {size} > {opts.max_body_size}")
    if size <= 0:
        raise FatalClientError("E_BAD_BODY", f"{name} invalid body size {size}")


def pub(params: list[bytes], opts: Options) -> None:
    name = params[0].decode()
    if len(params) < 2:
        raise invalid(f"{name} insufficient number of parameters")
    topic = params[1].decode(errors="replace")
    if not is_valid_name(topic):
        raise FatalClientError("E_BAD_TOPIC", f"{name} topic name {quoted(topic)} is not valid")


def dpub(params: list[bytes], opts: Options) -> None:
    if len(params) < 3:
        raise invalid("DPUB insufficient number of parameters")
    pub(params, opts)
    try:
        delay_ms = parse_base10(params[2])
    except ValueError:
        raise invalid(
            f"DPUB could not parse timeout {params[2].decode(errors='replace')}") from None
    max_ms = int(opts.max_req_timeout * 1000)
    if delay_ms > max_ms:
        raise invalid(f"DPUB timeout {delay_ms} out of range 0-{max_ms}")


def mpub(params: list[bytes], opts: Options) -> None:
    if len(params) < 2:
        raise invalid("MPUB insufficient number of parameters")
    topic = params[1].decode(errors="replace")
    if not is_valid_name(topic):
        # nsqd repeats the code inside the description here; clients see exactly this.
        raise FatalClientError("E_BAD_TOPIC",
                               f"E_BAD_TOPIC MPUB topic name {quoted(topic)} is not valid")


def message_size(params: list[bytes], size: int, opts: Options) -> None:
    name = params[0].decode()
    if size <= 0:
        raise FatalClientError("E_BAD_MESSAGE", f"{name} invalid message body size {size}")
    if size > opts.max_msg_size:
        raise FatalClientError("E_BAD_MESSAGE",
                               f"{name} message too big {size} > {opts.max_msg_size}")


def mpub_size(params: list[bytes], size: int, opts: Options) -> None:
    if size <= 0:
        raise FatalClientError("E_BAD_BODY", f"MPUB invalid body size {size}")
    if size > opts.max_body_size:
        raise FatalClientError("E_BAD_BODY",
                               f"MPUB body too big {size} > {opts.max_body_size}")
