"""mr_lookupd's flags: nsqlookupd's names and defaults, Go-style (-x=1) or GNU-style (--x 1)."""
from __future__ import annotations

import argparse
import socket
import sys
from dataclasses import dataclass, field
from typing import NoReturn

from mr.broker.options import parse_duration


@dataclass
class Options:
    tcp_address: str = "0.0.0.0:4160"
    http_address: str = "0.0.0.0:4161"
    broadcast_address: str = field(default_factory=socket.gethostname)
    inactive_producer_timeout: float = 300.0
    tombstone_lifetime: float = 45.0
    http_header_timeout: float = 10.0  # mr_lookupd's own, as mr_broker's (mr/broker/http_gate.py)
    http_idle_timeout: float = 120.0
    log_level: str = "info"
    log_prefix: str = "[mr_lookupd] "


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # noqa: D401 - argparse hook
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n"
                     f"Run '{self.prog} --help' for the nsqlookupd flags mr_lookupd supports.\n")


def build_parser() -> argparse.ArgumentParser:
    d = Options(broadcast_address="<hostname>")
    p = _Parser(prog="mr_lookupd", allow_abbrev=False,
                description="nsqlookupd-protocol discovery service: nsqd nodes (and mr_broker) "
                            "register their topics over TCP; consumers look them up over HTTP.")

    def add(name: str, **kwargs) -> None:
        p.add_argument(f"--{name}", f"-{name}", **kwargs)

    add("version", action="store_true", help="print version string")
    add("log-level", default=d.log_level, choices=["debug", "info", "warn", "error", "fatal"],
        help="log verbosity")
    add("log-prefix", default=d.log_prefix, help="log message prefix")
    add("verbose", action="store_true", help="[deprecated] has no effect, use --log-level")
    add("tcp-address", default=d.tcp_address, help="<addr>:<port> to listen on for TCP clients")
    add("http-address", default=d.http_address,
        help="<addr>:<port> to listen on for HTTP clients")
    add("broadcast-address", default=None,
        help="address of this lookupd node (defaults to the OS hostname)")
    add("inactive-producer-timeout", type=parse_duration, default=d.inactive_producer_timeout,
        help="duration of time a producer will remain in the active list since its last ping "
             "(default 5m0s)")
    add("tombstone-lifetime", type=parse_duration, default=d.tombstone_lifetime,
        help="duration of time a producer will remain tombstoned if registration remains "
             "(default 45s)")
    add("http-header-timeout", type=parse_duration, default=d.http_header_timeout,
        help="(mr_lookupd only) time a new HTTP connection has to send its request header")
    add("http-idle-timeout", type=parse_duration, default=d.http_idle_timeout,
        help="(mr_lookupd only) time an HTTP connection may sit idle between requests, or "
             "take over one request body, before it is closed")
    add("config", default=None, help="path to a config file (not supported by mr_lookupd)")
    return p


def parse_args(argv: list[str]) -> tuple[Options, bool]:
    """Options from a command line, and whether --version was asked for."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    if ns.config is not None:
        parser.error("--config is not supported by mr_lookupd: give every setting as a flag "
                     "instead")
    values = {k: v for k, v in vars(ns).items() if k not in ("version", "verbose", "config")}
    if values["broadcast_address"] is None:
        values.pop("broadcast_address")
    for name in ("inactive_producer_timeout", "tombstone_lifetime"):
        if values[name] < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")
    for name in ("http_header_timeout", "http_idle_timeout"):
        if values[name] <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    return Options(**values), ns.version
