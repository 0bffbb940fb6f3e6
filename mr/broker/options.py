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
from typing import NoReturn

from mr.broker import tls

VERSION = "1.3.0+mr.0.1.0"

_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}

# nsqd 1.3.0 flags mr_broker does not implement, each refused with what to use instead, so a
# production command line never silently means something else here.
REFUSED_NSQD_FLAGS = {
    "config": "give every setting as a flag",
    "https-address": "--tls-cert/--tls-key for TLS on the TCP protocol; put a TLS proxy in "
                     "front of --http-address",
    "statsd-address": "poll GET /stats?format=json",
    "statsd-interval": "poll GET /stats?format=json",
    "statsd-mem-stats": "poll GET /stats?format=json",
    "statsd-prefix": "poll GET /stats?format=json",
    "statsd-udp-packet-size": "poll GET /stats?format=json",
    "statsd-exclude-ephemeral": "poll GET /stats?format=json",
    "e2e-processing-latency-percentile": "measure end-to-end latency in the consumer",
    "e2e-processing-latency-window-time": "measure end-to-end latency in the consumer",
    # Added to nsqd after 1.3.0, refused as well so that their absence is explicit.
    "auth-http-request-method": "leave it out (the auth server is asked with GET, as by "
                                "nsqd 1.3.0)",
    "topology-region": "leave it out (topology-aware delivery is not built)",
    "topology-zone": "leave it out (topology-aware delivery is not built)",
    "enable-experiment": "leave it out (no experiments are built)",
}
# nsqd flags accepted and ignored: deprecated in nsqd itself, or tuning of nsqd's goroutine
# pool that has no counterpart in a broker that scans every channel on each 100ms pass.
IGNORED_NSQD_FLAGS = {
    "verbose": "[deprecated] has no effect, use --log-level",
    "worker-id": "[deprecated] use --node-id",
    "queue-scan-worker-pool-max": "accepted for nsqd compatibility; no effect (every channel "
                                  "is scanned on each pass)",
    "queue-scan-selection-count": "accepted for nsqd compatibility; no effect (every channel "
                                  "is scanned on each pass)",
}
_IGNORED_BOOLS = ("verbose", "worker-id")


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


def parse_go_bool(text: str) -> bool:
    """A Go flag boolean: 1, t, T, TRUE, true, True and their false counterparts."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


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
    auth_http_addresses: list[str] = field(default_factory=list)  # mr/broker/auth.py
    http_client_connect_timeout: float = 2.0
    http_client_request_timeout: float = 5.0
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
    http_header_timeout: float = 10.0  # mr_broker's own: nsqd's HTTP server has no timeouts
    http_idle_timeout: float = 120.0
    tls_cert: str = ""               # TLS on the TCP protocol (mr/broker/tls.py)
    tls_key: str = ""
    tls_root_ca_file: str = ""
    tls_client_auth_policy: str = ""
    tls_required: str = "false"
    tls_min_version: str = "tls1.2"
    deflate: bool = True             # compression negotiated in IDENTIFY (mr/broker/compress.py)
    max_deflate_level: int = 6
    snappy: bool = True


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # noqa: D401 - argparse hook
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n"
                     f"Run '{self.prog} --help' for the nsqd flags mr_broker supports.\n")


def _add(parser: argparse.ArgumentParser, name: str, **kwargs) -> None:
    parser.add_argument(f"--{name}", f"-{name}", **kwargs)


def _add_bool(parser: argparse.ArgumentParser, name: str, default: bool, help: str,
              dest: str | None = None) -> None:
    """A Go-style boolean flag: `--snappy` sets it, `--snappy=false` clears it."""
    _add(parser, name, type=parse_go_bool, nargs="?", const=True, default=default,
         metavar="BOOL", help=help, **({"dest": dest} if dest else {}))


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
    _add(p, "auth-http-address", action="append", default=[], dest="auth_http_addresses",
         help="<addr>:<port> or a full url to query auth server (may be given multiple times)")
    _add(p, "http-client-connect-timeout", type=parse_duration,
         default=d.http_client_connect_timeout, help="timeout for HTTP connect (auth server)")
    _add(p, "http-client-request-timeout", type=parse_duration,
         default=d.http_client_request_timeout, help="timeout for HTTP request (auth server)")
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
    _add(p, "http-header-timeout", type=parse_duration, default=d.http_header_timeout,
         help="(mr_broker only) time a new HTTP connection has to send its request header")
    _add(p, "http-idle-timeout", type=parse_duration, default=d.http_idle_timeout,
         help="(mr_broker only) time an HTTP connection may sit idle between requests, or "
              "take over one request body, before it is closed")
    tls.add_arguments(_add, p, d)
    _add_bool(p, "deflate", d.deflate,
              "enable deflate feature negotiation (client compression)")
    _add(p, "max-deflate-level", type=int, default=d.max_deflate_level,
         help="max deflate compression level a client can negotiate (> values == > CPU usage)")
    _add_bool(p, "snappy", d.snappy, "enable snappy feature negotiation (client compression)")
    for name, why in IGNORED_NSQD_FLAGS.items():
        if name in _IGNORED_BOOLS:
            _add_bool(p, name, False, why, dest=f"ignored_{name.replace('-', '_')}")
        else:
            _add(p, name, type=int, default=None, dest=f"ignored_{name.replace('-', '_')}",
                 help=why)
    for name, instead in REFUSED_NSQD_FLAGS.items():
        _add(p, name, nargs="?", default=None, dest=f"refused_{name.replace('-', '_')}",
             help=f"nsqd flag refused by mr_broker: {instead} instead")
    return p


def _refuse_unsupported(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    for arg in argv:
        if not arg.startswith("-"):
            continue
        name = arg.lstrip("-").split("=", 1)[0]
        if name in REFUSED_NSQD_FLAGS:
            parser.error(f"nsqd flag '{arg.split('=', 1)[0]}' is not supported by mr_broker: "
                         f"{REFUSED_NSQD_FLAGS[name]} instead")


def parse_args(argv: list[str]) -> tuple[Options, bool]:
    """Options from a command line, and whether --version was asked for."""
    parser = build_parser()
    _refuse_unsupported(parser, argv)
    ns = parser.parse_args(argv)
    values = {k: v for k, v in vars(ns).items()
              if k != "version" and not k.startswith(("ignored_", "refused_"))}
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
    for name in ("http_header_timeout", "http_idle_timeout"):
        if getattr(opts, name) <= 0:
            problems.append(f"--{name.replace('_', '-')} must be positive")
    if not 1 <= opts.max_deflate_level <= 9:
        problems.append("--max-deflate-level must be [1,9]")
    problems += tls.problems(opts)
    if problems:
        parser.error("; ".join(problems))
    return opts, ns.version
