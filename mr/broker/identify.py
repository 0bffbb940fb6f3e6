"""IDENTIFY: validate a client's settings against the broker's limits, as nsqd does.

Pure logic, so each rule can be unit-tested. TLS is agreed when the broker offers it and
the client asks (mr/broker/tls.py performs the upgrade); deflate or snappy (not both) when
the broker's --deflate/--snappy allow it and the client asks (mr/broker/compress.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from mr.broker.compress import deflate_level
from mr.broker.options import VERSION, Options
from mr.broker.protocol import OK

_INT_FIELDS = ("heartbeat_interval", "output_buffer_size", "output_buffer_timeout",
               "sample_rate", "msg_timeout", "deflate_level")
_STR_FIELDS = ("client_id", "hostname", "user_agent", "topology_region", "topology_zone")
_BOOL_FIELDS = ("feature_negotiation", "tls_v1", "deflate", "snappy")
_DEFAULT_OUTPUT_BUFFER_SIZE = 16 * 1024


class IdentifyError(ValueError):
    """A setting out of the broker's range; the text follows "IDENTIFY " as in nsqd."""

    code = "E_BAD_BODY"


class FeatureConflict(IdentifyError):
    """Features that cannot go together (deflate and snappy)."""

    code = "E_IDENTIFY_FAILED"


@dataclass
class IdentifyResult:
    client_id: str
    hostname: str
    user_agent: str
    heartbeat_interval: float
    output_buffer_size: int
    output_buffer_timeout: float
    sample_rate: int
    msg_timeout: float
    response: bytes
    tls_v1: bool = False
    deflate_level: int = 0  # 0: no deflate
    snappy: bool = False


def _check_types(data: dict) -> None:
    """Reject what Go's JSON decoder would refuse for nsqd's identify struct."""
    for name in _INT_FIELDS:
        value = data.get(name, 0)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(name)
    for name in _STR_FIELDS:
        if not isinstance(data.get(name, ""), (str, type(None))):
            raise ValueError(name)
    for name in _BOOL_FIELDS:
        if not isinstance(data.get(name, False), (bool, type(None))):
            raise ValueError(name)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def negotiate(data: dict, opts: Options, tls_offered: bool = False,
              auth_required: bool = False) -> IdentifyResult:
    """Apply an IDENTIFY body; raise ValueError (bad JSON types) or IdentifyError (range)."""
    _check_types(data)
    get = lambda name: data.get(name) or 0  # noqa: E731 - null and absent mean "default"

    heartbeat = opts.client_timeout / 2
    wanted = get("heartbeat_interval")
    if wanted == -1:
        heartbeat = 0.0
    elif wanted != 0:
        if not 1000 <= wanted <= _ms(opts.max_heartbeat_interval):
            raise IdentifyError(f"IDENTIFY heartbeat interval ({wanted}) is invalid")
        heartbeat = wanted / 1000.0

    buffer_timeout = opts.output_buffer_timeout
    wanted = get("output_buffer_timeout")
    if wanted == -1:
        buffer_timeout = 0.0
    elif wanted != 0:
        lowest, highest = opts.min_output_buffer_timeout, opts.max_output_buffer_timeout
        if not _ms(lowest) <= wanted <= _ms(highest):
            raise IdentifyError(f"IDENTIFY output buffer timeout ({wanted}) is invalid")
        buffer_timeout = wanted / 1000.0

    buffer_size = _DEFAULT_OUTPUT_BUFFER_SIZE
    wanted = get("output_buffer_size")
    if wanted == -1:
        buffer_size, buffer_timeout = 1, 0.0
    elif wanted != 0:
        if not 64 <= wanted <= opts.max_output_buffer_size:
            raise IdentifyError(f"IDENTIFY output buffer size ({wanted}) is invalid")
        buffer_size = wanted

    sample_rate = get("sample_rate")
    if not 0 <= sample_rate <= 99:
        raise IdentifyError(f"IDENTIFY sample rate ({sample_rate}) is invalid")

    msg_timeout = opts.msg_timeout
    wanted = get("msg_timeout")
    if wanted != 0:
        if not 1000 <= wanted <= _ms(opts.max_msg_timeout):
            raise IdentifyError(f"IDENTIFY msg timeout ({wanted}) is invalid")
        msg_timeout = wanted / 1000.0

    response = OK
    negotiating = bool(data.get("feature_negotiation"))
    tls_v1 = bool(tls_offered and data.get("tls_v1") and negotiating)
    deflate = bool(opts.deflate and data.get("deflate") and negotiating)
    level = deflate_level(get("deflate_level") if deflate else 0, opts.max_deflate_level)
    snappy = bool(opts.snappy and data.get("snappy") and negotiating)
    if deflate and snappy:
        raise FeatureConflict("cannot enable both deflate and snappy compression")
    if negotiating:
        response = json.dumps({
            "max_rdy_count": opts.max_rdy_count,
            "version": VERSION,
            "max_msg_timeout": _ms(opts.max_msg_timeout),
            "msg_timeout": _ms(msg_timeout),
            "tls_v1": tls_v1,
            "deflate": deflate,
            "deflate_level": level,
            "max_deflate_level": opts.max_deflate_level,
            "snappy": snappy,
            "sample_rate": sample_rate,
            "auth_required": auth_required,
            "output_buffer_size": buffer_size,
            "output_buffer_timeout": _ms(buffer_timeout),
            "topology_region": "",
            "topology_zone": "",
        }, separators=(",", ":")).encode()
    return IdentifyResult(
        client_id=data.get("client_id") or "", hostname=data.get("hostname") or "",
        user_agent=data.get("user_agent") or "", heartbeat_interval=heartbeat,
        output_buffer_size=buffer_size, output_buffer_timeout=buffer_timeout,
        sample_rate=sample_rate, msg_timeout=msg_timeout, response=response, tls_v1=tls_v1,
        deflate_level=level if deflate else 0, snappy=snappy)
