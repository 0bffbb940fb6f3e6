"""Where the etcd members are: the MR_ETCD_HOSTS entries as one gRPC target.

Several members become one channel over all their addresses, which grpc's round-robin policy
fails over between (a call waits for a member that is ready). grpc's own resolver takes a
single name, so host names are resolved here, once, when the client is made: a member that
moves to another address needs the processes restarted.
"""
from __future__ import annotations

import ipaddress
import logging
import socket

log = logging.getLogger(__name__)

DEFAULT_PORT = "2379"  # etcd's client port, for a host given without one
FAMILIES = ((socket.AF_INET, "ipv4:", "{}:{}"), (socket.AF_INET6, "ipv6:", "[{}]:{}"))


def split(host: str) -> tuple[str, str]:
    """(name or address, port) of "name:port", "a.b.c.d:port" or "[v6]:port"."""
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        return address, rest.lstrip(":") or DEFAULT_PORT
    name, colon, port = host.rpartition(":")
    return (name, port) if colon else (host, DEFAULT_PORT)


def is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def grpc_target(hosts: list[str]) -> tuple[str, str | None]:
    """The target for `hosts`, and the host name a TLS certificate is checked against when
    names were resolved into addresses (the first that resolved; None otherwise).

    IPv4 addresses when every member has one, else IPv6; a host that does not resolve is
    left out (with a warning). One host is left to grpc as it is.
    """
    if len(hosts) < 2:
        return hosts[0], None
    resolved: dict[str, list] = {}
    for host in hosts:
        try:
            resolved[host] = socket.getaddrinfo(*split(host), type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            log.warning("etcd host %s is left out: it does not resolve (%s)", host, exc)
    for family, scheme, form in FAMILIES:
        if resolved and all(any(i[0] == family for i in infos) for infos in resolved.values()):
            addresses = dict.fromkeys(form.format(*info[4][:2]) for infos in resolved.values()
                                      for info in infos if info[0] == family)
            first = split(next(iter(resolved)))[0]
            return scheme + ",".join(addresses), None if is_address(first) else first
    log.warning("etcd hosts %s do not resolve %s: only %s is used (no failover)",
                ",".join(hosts), "to addresses of one family" if resolved else "now", hosts[0])
    return hosts[0], None
