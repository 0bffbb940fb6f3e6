"""Authorization by an external auth server, as nsqd's --auth-http-address does it.

A client sends AUTH with a secret; the broker asks an auth server
(`GET http://<addr>/auth?remote_ip=..&tls=..&secret=..&common_name=..`, or the full URL
given) which topics and channels that secret may publish to or subscribe on, and for how
long (ttl seconds). The answer is kept on the connection and asked again once the TTL has
passed. Topic and channel patterns are regular expressions searched anywhere in the name,
as Go's MatchString does; publishing needs an authorization whose channel patterns match
the empty channel name, exactly as in nsqd.

Only the rules live here (answer validation, matching, the query itself); the TCP side
decides when to ask and which error frame follows (mr/broker/handshake.py).
"""
from __future__ import annotations

import json
import random
import re
import time
import urllib.parse
from dataclasses import dataclass, field

PERMISSIONS = ("subscribe", "publish")


class AuthError(Exception):
    """The auth server could not be asked or its answer is unusable (never shown to clients:
    nsqd logs it and answers E_AUTH_FAILED)."""


@dataclass
class Authorization:
    topic: re.Pattern
    channels: list[re.Pattern]
    permissions: list[str]

    def allows(self, topic: str, channel: str) -> bool:
        needed = "subscribe" if channel else "publish"
        return (needed in self.permissions and bool(self.topic.search(topic))
                and any(pattern.search(channel) for pattern in self.channels))


@dataclass
class AuthState:
    identity: str
    identity_url: str
    authorizations: list[Authorization]
    expires: float = field(default=0.0)  # time.monotonic()

    def allows(self, topic: str, channel: str) -> bool:
        return any(a.allows(topic, channel) for a in self.authorizations)

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.expires


def _pattern(text) -> re.Pattern:
    if not isinstance(text, str):
        raise AuthError(f"invalid pattern {text!r}")
    try:
        return re.compile(text)
    except re.error as exc:
        raise AuthError(f"unable to compile {text!r} {exc}") from exc


def parse_answer(body: bytes) -> AuthState:
    """An auth server's JSON answer, checked as nsqd checks it."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise AuthError(f"invalid JSON answer - {exc}") from exc
    authorizations = []
    for item in data.get("authorizations") or []:
        if not isinstance(item, dict):
            raise AuthError(f"invalid authorization {item!r}")
        permissions = item.get("permissions") or []
        for permission in permissions:
            if permission not in PERMISSIONS:
                raise AuthError(f"unknown permission {permission}")
        authorizations.append(Authorization(
            _pattern(item.get("topic", "")),
            [_pattern(c) for c in item.get("channels") or []], list(permissions)))
    ttl = data.get("ttl", 0)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
        raise AuthError(f"invalid TTL {ttl} (must be >0)")
    return AuthState(str(data.get("identity") or ""), str(data.get("identity_url") or ""),
                     authorizations, time.monotonic() + ttl)


def endpoint(address: str, remote_ip: str, tls: bool, common_name: str, secret: str) -> str:
    """The URL nsqd asks: `address` is host:port (path /auth) or a full URL."""
    query = urllib.parse.urlencode({"common_name": common_name, "remote_ip": remote_ip,
                                    "secret": secret, "tls": "true" if tls else "false"})
    if "://" in address:
        return f"{address}?{query}"
    return f"http://{address}/auth?{query}"


async def query(addresses: list[str], remote_ip: str, tls: bool, common_name: str, secret: str,
                connect_timeout: float, request_timeout: float) -> AuthState:
    """Ask the auth servers, starting at a random one, until one answers usably."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    client = AsyncHTTPClient()
    start = random.randrange(len(addresses))
    failures = []
    for address in addresses[start:] + addresses[:start]:
        url = endpoint(address, remote_ip, tls, common_name, secret)
        try:
            reply = await client.fetch(url, connect_timeout=connect_timeout,
                                       request_timeout=request_timeout,
                                       headers={"Accept": "application/vnd.nsq; version=1.0"})
            return parse_answer(reply.body)
        except HTTPClientError as exc:
            body = exc.response.body if exc.response is not None else b""
            failures.append(f"failed to auth against {address} - got response {exc.code} "
                            f"{body[:200]!r}")
        except (TimeoutError, AuthError, OSError, ValueError) as exc:
            failures.append(f"failed to auth against {address} - {exc}")
    raise AuthError("; ".join(failures))
