"""Small HTTP pieces shared by the front-end's routes: errors, raw bodies, query flags."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs


class HttpError(Exception):
    """Answered as JSON {"error": message, ...extra} with `status`."""

    def __init__(self, status: int, message: str, request_id: str | None = None, **extra):
        super().__init__(message)
        self.status, self.request_id, self.extra = status, request_id, extra


@dataclass(frozen=True)
class Raw:
    """A non-JSON response body (metrics, HTML, event streams)."""
    content_type: str
    payload: bytes


def request_path(environ) -> str:
    """The URL path as the client wrote it.

    A WSGI server passes the path's bytes decoded as latin-1 (PEP 3333), but URLs carry UTF-8:
    read as is, /job/wf/j%C3%B6b would name job "jÃ¶b" in errors. Bytes that are not UTF-8
    become U+FFFD.
    """
    raw = environ.get("PATH_INFO", "/")
    try:
        return raw.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:  # not a WSGI byte string: already text
        return raw


def query(environ, *allowed: str) -> dict[str, str]:
    """The query string's parameters, first value of each. With `allowed`, any other name is
    a 400: a misspelt ?blockng=false must not silently block. (?token= is for auth.)"""
    found = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    unknown = sorted(set(found) - set(allowed) - {"token"}) if allowed else []
    if unknown:
        raise HttpError(400, f"unknown query parameter(s) {', '.join(unknown)}: this takes "
                             f"{', '.join(allowed)}")
    return found


def whole(params: dict[str, str], name: str, default: int, least: int = 0) -> int:
    """A whole-number parameter, at least `least`."""
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HttpError(400, f"{name}={raw!r} is not a whole number") from None
    if value < least:
        raise HttpError(400, f"{name} must be >= {least}")
    return value


PAGE = 1000          # pairs per page of a result or an output, unless ?limit= says otherwise
MAX_PAGE = 100_000


def page_window(params: dict[str, str]) -> tuple[int, int]:
    """?offset=&limit= of a paged list of pairs."""
    offset, limit = whole(params, "offset", 0), whole(params, "limit", PAGE)
    if limit < 1 or limit > MAX_PAGE:
        raise HttpError(400, f"limit must be 1 to {MAX_PAGE}")
    return offset, limit


def flag(params: dict[str, str], name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise HttpError(400, f"{name}={raw!r}: use true or false")
