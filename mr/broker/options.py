"""Command-line flags, named and defaulted as nsqd's, parsed into one Options object.

Flags may be written Go-style (`-tcp-address=...`) or GNU-style (`--tcp-address ...`).
nsqd flags that mr_broker does not implement are refused by name, so a production
command line never silently means something else here.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import socket
import sys
import zlib
from dataclasses import dataclass, field

from mr.broker import tls

VERSION = "1.3.0+mr.0.1.0"

_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}

# nsqd flags that exist but are not implemented here: refused with a clear message.
UNSUPPORTED_NSQD_FLAGS = (
    "config", "https-address", "auth-http-address", "auth-http-request-method",
    "http-client-connect-timeout", "http-client-request-timeout", "topology-region",
    "topology-zone", "queue-scan-worker-pool-max", "queue-scan-selection-count",
    "statsd-address", "statsd-interval", "statsd-mem-stats", "statsd-prefix",
    "statsd-udp-packet-size", "statsd-exclude-ephemeral", "e2e-processing-latency-percentile",
    "e2e-processing-latency-window-time", "deflate", "max-deflate-level",
    "snappy", "enable-experiment", "worker-id", "verbose",
)


def split_address(address: str) -> tuple[str, int]:
    """'host:port', ':port' or '[v6]:port' as (host, port); an empty host means all."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"invalid address {address!r}: expected <addr>:<port>")
    return host.strip("[]") or "0.0.0.0", int(port)


def parse_duration(text: str) -> float:
    """A Go duration string ("250ms", "1m30s", "1.5h") in seconds; "0" is allowed."""
    text = text.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(body) or not body:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 60s, 250ms, 1m30s)")
    return sign * total


def _default_node_id() -> int:
    """nsqd's default: a hash of the hostname, so brokers on different hosts differ."""
    digest = hashlib.md5(socket.gethostname().encode()).digest()
    return zlib.crc32(digest) % 1024


@dataclass
class Options:
    tcp_address: str = "0.0.0.0:4150"
    http_address: str = "0.0.0.0:4151"
    broadcast_address: str = field(default_factory=socket.gethostname)
    broadcast_tcp_port: int = 0
    broadcast_http_port: int = 0
    lookupd_tcp_addresses: list[str] = field(default_factory=list)
    node_id: int = field(default_factory=_default_node_id)
    log_level: str = "info"
    log_prefix: str = "[mr_broker] "
    data_path: str = ""
    mem_queue_size: int = 10000
    max_bytes_per_file: int = 100 * 1024 * 1024
    sync_every: int = 2500
    sync_timeout: float = 2.0
    msg_timeout: float = 60.0
    max_msg_timeout: float = 15 * 60.0
    max_msg_size: int = 1024 * 1024
    max_body_size: int = 5 * 1024 * 1024
    max_req_timeout: float = 3600.0
    client_timeout: float = 60.0
    max_heartbeat_interval: float = 60.0
    max_rdy_count: int = 2500
    max_output_buffer_size: int = 64 * 1024
    max_output_buffer_timeout: float = 30.0
    min_output_buffer_timeout: float = 0.025
    output_buffer_timeout: float = 0.25
    max_channel_consumers: int = 0
    tls_cert: str = ""               # TLS on the TCP protocol (mr/broker/tls.py)
    tls_key: str = ""
    tls_root_ca_file: str = ""
    tls_client_auth_policy: str = ""
    tls_required: str = "false"
    tls_min_version: str = "tls1.2"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # noqa: D401 - argparse hook
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n"
                     f"Run '{self.prog} --help' for the nsqd flags mr_broker supports.\n")


def _add(parser: argparse.ArgumentParser, name: str, **kwargs) -> None:
    parser.add_argument(f"--{name}", f"-{name}", **kwargs)


def build_parser() -> argparse.ArgumentParser:
    d = Options(broadcast_address="<hostname>")
    p = _Parser(prog="mr_broker", allow_abbrev=False,
                description="NSQ-protocol message broker (nsqd-compatible flags and protocols).")
    _add(p, "version", action="store_true", help="print version string")
    _add(p, "log-level", default=d.log_level,
         choices=["debug", "info", "warn", "error", "fatal"], help="log verbosity")
    _add(p, "log-prefix", default=d.log_prefix, help="log message prefix")
    _add(p, "node-id", type=int, default=d.node_id,
         help="unique part for message IDs, in range [0,1024)")
    _add(p, "tcp-address", default=d.tcp_address,
         help="<addr>:<port> to listen on for TCP clients")
    _add(p, "http-address", default=d.http_address,
         help="<addr>:<port> to listen on for HTTP clients")
    _add(p, "broadcast-address", default=None,
         help="address that will be registered with lookupd (defaults to the OS hostname)")
    _add(p, "broadcast-tcp-port", type=int, default=d.broadcast_tcp_port,
         help="TCP port registered with lookupd (defaults to the listening port)")
    _add(p, "broadcast-http-port", type=int, default=d.broadcast_http_port,
         help="HTTP port registered with lookupd (defaults to the listening port)")
    _add(p, "lookupd-tcp-address", action="append", default=[], dest="lookupd_tcp_addresses",
         help="lookupd TCP address to register topics and channels with "
              "(may be given multiple times)")
    _add(p, "data-path", default=d.data_path,
         help="path to store disk-backed messages (default: a temporary directory, "
              "removed at exit, so nothing survives a restart)")
    _add(p, "mem-queue-size", type=int, default=d.mem_queue_size,
         help="number of messages to keep in memory (per topic/channel)")
    _add(p, "max-bytes-per-file", type=int, default=d.max_bytes_per_file,
         help="number of bytes per disk queue file before rolling")
    _add(p, "sync-every", type=int, default=d.sync_every,
         help="number of messages per disk queue fsync")
    _add(p, "sync-timeout", type=parse_duration, default=d.sync_timeout,
         help="duration of time per disk queue fsync")
    _add(p, "msg-timeout", type=parse_duration, default=d.msg_timeout,
         help="default duration to wait before auto-requeueing a message")
    _add(p, "max-msg-timeout", type=parse_duration, default=d.max_msg_timeout,
         help="maximum duration before a message will timeout")
    _add(p, "max-msg-size", type=int, default=d.max_msg_size,
         help="maximum size of a single message in bytes")
    _add(p, "max-req-timeout", type=parse_duration, default=d.max_req_timeout,
         help="maximum requeueing timeout for a message")
    _add(p, "max-body-size", type=int, default=d.max_body_size,
         help="maximum size of a single command body")
    _add(p, "max-heartbeat-interval", type=parse_duration, default=d.max_heartbeat_interval,
         help="maximum client configurable duration of time between client heartbeats")
    _add(p, "max-rdy-count", type=int, default=d.max_rdy_count,
         help="maximum RDY count for a client")
    _add(p, "max-output-buffer-size", type=int, default=d.max_output_buffer_size,
         help="maximum client configurable size (in bytes) for a client output buffer")
    _add(p, "max-output-buffer-timeout", type=parse_duration,
         default=d.max_output_buffer_timeout,
         help="maximum client configurable duration of time between flushing to a client")
    _add(p, "min-output-buffer-timeout", type=parse_duration,
         default=d.min_output_buffer_timeout,
         help="minimum client configurable duration of time between flushing to a client")
    _add(p, "output-buffer-timeout", type=parse_duration, default=d.output_buffer_timeout,
         help="default duration of time between flushing data to clients")
    _add(p, "max-channel-consumers", type=int, default=d.max_channel_consumers,
         help="maximum channel consumer connection count (0: unlimited)")
    tls.add_arguments(_add, p, d)
    return p


def _refuse_unsupported(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    for arg in argv:
        if not arg.startswith("-"):
            continue
        name = arg.lstrip("-").split("=", 1)[0]
        if name in UNSUPPORTED_NSQD_FLAGS:
            parser.error(f"nsqd flag '{arg.split('=', 1)[0]}' is not supported by mr_broker")


def parse_args(argv: list[str]) -> tuple[Options, bool]:
    """Options from a command line, and whether --version was asked for."""
    parser = build_parser()
    _refuse_unsupported(parser, argv)
    ns = parser.parse_args(argv)
    values = {k: v for k, v in vars(ns).items() if k != "version"}
    if values["broadcast_address"] is None:
        values.pop("broadcast_address")
    opts = Options(**values)
    problems = []
    if not 0 <= opts.node_id < 1024:
        problems.append(f"--node-id must be in [0,1024), got {opts.node_id}")
    for name in ("mem_queue_size", "max_rdy_count", "max_msg_size", "max_body_size",
                 "max_bytes_per_file", "sync_every"):
        value = getattr(opts, name)
        if value < (0 if name == "mem_queue_size" else 1):
            problems.append(f"--{name.replace('_', '-')} is out of range: {value}")
    problems += tls.problems(opts)
    if problems:
        parser.error("; ".join(problems))
    return opts, ns.version
