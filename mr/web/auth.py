"""Optional bearer-token authentication for the front-end.

Off unless tokens are configured: MR_AUTH_TOKENS_FILE (one token a line, `token` or
`name:token`; blank lines and `#` comments ignored; re-read when the file changes) and/or
MR_AUTH_TOKENS (the same forms, comma-separated). A client sends `Authorization: Bearer
<token>`. No or a malformed header is 401, an unknown token 403. Tokens are compared in
constant time (as SHA-256 digests, so neither length nor content leaks through timing).
The liveness route `/` stays open for load balancers.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass

from mr import config

OPEN_PATHS = ("/",)
REALM = 'Bearer realm="mr"'


class AuthError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Token:
    name: str
    digest: bytes


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def parse_tokens(lines: list[str], source: str) -> list[Token]:
    """`token` or `name:token` entries; a token's default name is `client<N>` (1-based)."""
    tokens: list[Token] = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, secret = line.partition(":")
        name, secret = (name.strip(), secret.strip()) if sep else (f"client{len(tokens) + 1}",
                                                                   line)
        if not secret or any(c.isspace() for c in secret):
            raise AuthError(500, f"authentication is misconfigured: {source} entry {number} "
                                 f"has an empty token or one with spaces")
        tokens.append(Token(name or f"client{len(tokens) + 1}", _digest(secret)))
    return tokens


class TokenStore:
    """The configured tokens, re-read from the file when its modification time changes."""

    def __init__(self, settings: config.Settings):
        self.path = settings.auth_tokens_file
        self._from_env = parse_tokens(settings.auth_tokens, "MR_AUTH_TOKENS")
        self._from_file: list[Token] = []
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.path or self._from_env)

    def tokens(self) -> list[Token]:
        if self.path:
            self._reload()
        tokens = self._from_env + self._from_file
        if not tokens:
            raise AuthError(500, f"authentication is misconfigured: no token in "
                                 f"MR_AUTH_TOKENS_FILE={self.path}; add one or unset it")
        return tokens

    def _reload(self) -> None:
        try:
            stat = os.stat(self.path)
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp == self._stamp:
                return
            with open(self.path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise AuthError(500, f"authentication is misconfigured: cannot read "
                                 f"MR_AUTH_TOKENS_FILE={self.path}: {exc}") from None
        parsed = parse_tokens(lines, self.path)
        with self._lock:
            self._from_file, self._stamp = parsed, stamp

    def identify(self, header: str | None) -> str:
        """The client name a valid `Authorization` header belongs to; AuthError otherwise."""
        if not header:
            raise AuthError(401, "authentication required: send 'Authorization: Bearer <token>'")
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials or " " in credentials:
            raise AuthError(401, "malformed Authorization header: expected 'Bearer <token>'")
        offered = _digest(credentials)
        found = None
        for token in self.tokens():  # compare with every token: the time does not tell which
            if hmac.compare_digest(offered, token.digest) and found is None:
                found = token.name
        if found is None:
            raise AuthError(403, "invalid token: it is not one of this front-end's tokens")
        return found


_store: TokenStore | None = None
_store_pid = 0


def _get_store() -> TokenStore:
    global _store, _store_pid
    if _store is None or _store_pid != os.getpid():
        _store, _store_pid = TokenStore(config.load()), os.getpid()
    return _store


def refuse(environ, start_response) -> list[bytes] | None:
    """None when the request may go on; otherwise the JSON 401/403/500 response, sent.

    On success the client's name is left in environ["mr.auth.client"].
    """
    if environ.get("PATH_INFO", "/") in OPEN_PATHS:
        return None
    try:
        store = _get_store()
        if not store.enabled:
            return None
        environ["mr.auth.client"] = store.identify(environ.get("HTTP_AUTHORIZATION"))
        return None
    except AuthError as exc:
        status, message = exc.status, str(exc)
    except ValueError as exc:  # a bad MR_* value: never serve unauthenticated because of it
        status, message = 500, f"authentication is misconfigured: {exc}"
    payload = json.dumps({"error": message}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    if status == 401:
        headers.append(("WWW-Authenticate", REALM))
    reason = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Internal Server Error")
    start_response(f"{status} {reason}", headers)
    return [payload]
