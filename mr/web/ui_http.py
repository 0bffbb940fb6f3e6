"""HTTP pieces of the web view (/ui/): responses with their own headers (event streams,
cookies), the token a browser sends without an Authorization header, and static files.

A browser cannot put a bearer token on an EventSource or an <img>, so for /ui/ paths only the
token is also taken from `?token=` (the page then keeps it in the `mr_token` cookie) or from
that cookie. The JSON API keeps requiring the header; the view's scripts add it from the
cookie when they call it (retry, cancel).
"""
from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote, unquote

from mr.resource_files import STATIC_DIR
from mr.web.http import HttpError, query

UI_PREFIX = "/ui/"
COOKIE = "mr_token"
STATIC_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
HTML = "text/html; charset=utf-8"


@dataclass
class Reply:
    """A body the front-end sends as it is, with these headers: a stream of chunks (no
    Content-Length), or a page that also sets a cookie."""
    headers: list[tuple[str, str]]
    chunks: Iterable[bytes]


def page(environ, content: str, content_type: str = HTML) -> Reply:
    payload = content.encode()
    headers = [("Content-Type", content_type), ("Content-Length", str(len(payload))),
               ("Cache-Control", "no-store")]
    token = environ.get("mr.ui.new_token")
    if token:  # came as ?token=: keep it for the page's streams, images and API calls
        secure = "; Secure" if _https(environ) else ""
        headers.append(("Set-Cookie", f"{COOKIE}={quote(token, safe='')}; Path=/; "
                                      f"SameSite=Strict{secure}"))
    return Reply(headers, [payload])


def event_stream(chunks: Iterable[bytes]) -> Reply:
    return Reply([("Content-Type", "text/event-stream; charset=utf-8"),
                  ("Cache-Control", "no-store"),
                  ("X-Accel-Buffering", "no")],  # nginx passes events on at once
                 chunks)


def _https(environ) -> bool:
    return (environ.get("wsgi.url_scheme") == "https"
            or environ.get("HTTP_X_FORWARDED_PROTO", "").lower() == "https")


def cookies(environ) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(environ.get("HTTP_COOKIE", ""))
    except CookieError:
        return {}
    return {name: unquote(morsel.value) for name, morsel in jar.items()}


def accept_token(environ) -> None:
    """For /ui/ paths without an Authorization header: use ?token= or the mr_token cookie.

    Runs before the bearer-token check, which then judges the token as usual.
    """
    path = environ.get("PATH_INFO", "")
    if not (path + "/").startswith(UI_PREFIX) or environ.get("HTTP_AUTHORIZATION"):
        return
    given = query(environ).get("token", "").strip()
    token = given or cookies(environ).get(COOKIE, "").strip()
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if given:
        environ["mr.ui.new_token"] = given


def static(front_end, environ, name: str) -> tuple[int, Reply]:
    """A file of resources/static (nginx serves the same directory in production)."""
    path = STATIC_DIR / name
    if not STATIC_NAME.match(name) or not path.is_file():
        raise HttpError(404, f"no static file {name!r}")
    payload = path.read_bytes()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    return 200, Reply([("Content-Type", content_type), ("Content-Length", str(len(payload))),
                       ("Cache-Control", "max-age=60")], [payload])
