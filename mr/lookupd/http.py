"""nsqlookupd's HTTP API: the same paths, methods, status codes and JSON shapes.

Consumers (pynsq's Reader: GET /lookup?topic=) and operators use it. Successful V1 replies
are JSON (or empty for the write endpoints); errors are {"message": "CODE"}.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import unquote_plus

import tornado.netutil
import tornado.web

from mr.broker.http_gate import MAX_HEADER_SIZE, GatedHTTPServer
from mr.broker.options import VERSION
from mr.broker.protocol import is_valid_name
from mr.lookupd.options import Options
from mr.lookupd.registry import ANY, Registration, RegistrationDB, active, keys, subkeys

log = logging.getLogger("mr.lookupd")


class Lookupd(Protocol):
    """What the HTTP side serves: the registration database under the daemon's options.
    mr.lookupd.server's daemon provides it; this side does not know the TCP one."""

    options: Options
    db: RegistrationDB
_BAD_ESCAPE = re.compile(r"%(?![0-9a-fA-F]{2})")


class HTTPError(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


def parse_query(raw: str) -> dict[str, list[str]]:
    """Go's url.ParseQuery: a bad escape or a ';' makes the whole query invalid."""
    values: dict[str, list[str]] = {}
    for part in raw.split("&"):
        if not part:
            continue
        if ";" in part or _BAD_ESCAPE.search(part):
            raise HTTPError(400, "INVALID_REQUEST")
        key, _, value = part.partition("=")
        values.setdefault(unquote_plus(key), []).append(unquote_plus(value))
    return values


class Params:
    def __init__(self, query: dict[str, list[str]]) -> None:
        self.query = query

    def get(self, name: str, missing: str) -> str:
        """The first value of `name` (present but empty counts); 400 `missing` if absent."""
        if name not in self.query:
            raise HTTPError(400, missing)
        return self.query[name][0]

    def topic_and_channel(self) -> tuple[str, str]:
        topic = self.get("topic", "MISSING_ARG_TOPIC")
        if not is_valid_name(topic):
            raise HTTPError(400, "INVALID_ARG_TOPIC")
        channel = self.get("channel", "MISSING_ARG_CHANNEL")
        if not is_valid_name(channel):
            raise HTTPError(400, "INVALID_ARG_CHANNEL")
        return topic, channel


# -- routes ---------------------------------------------------------------------------------
def do_info(lookupd: Lookupd, p: Params):
    return {"version": VERSION}


def do_topics(lookupd: Lookupd, p: Params):
    return {"topics": keys(lookupd.db.find_registrations("topic", ANY, ""))}


def do_channels(lookupd: Lookupd, p: Params):
    topic = p.get("topic", "MISSING_ARG_TOPIC")
    return {"channels": subkeys(lookupd.db.find_registrations("channel", topic, ANY))}


def do_lookup(lookupd: Lookupd, p: Params):
    topic = p.get("topic", "MISSING_ARG_TOPIC")
    db, opts = lookupd.db, lookupd.options
    if not db.find_registrations("topic", topic, ""):
        raise HTTPError(404, "TOPIC_NOT_FOUND")
    producers = active(db.find_producers("topic", topic, ""), opts.inactive_producer_timeout,
                       opts.tombstone_lifetime)
    return {"channels": subkeys(db.find_registrations("channel", topic, ANY)),
            "producers": [producer.peer.to_json() for producer in producers]}


def do_nodes(lookupd: Lookupd, p: Params):
    db, opts = lookupd.db, lookupd.options
    nodes = []
    # Tombstoned nodes are listed (with their tombstones); only inactive ones are left out.
    for client in active(db.find_producers("client", "", ""), opts.inactive_producer_timeout, 0):
        peer = client.peer
        topics = [r.key for r in db.lookup_registrations(peer.id) if r.category == "topic"]
        tombstones = []
        for topic in topics:
            mine = [t for t in db.find_producers("topic", topic, "") if t.peer is peer]
            tombstones.append(bool(mine) and mine[0].is_tombstoned(opts.tombstone_lifetime))
        nodes.append({**peer.to_json(), "tombstones": tombstones, "topics": topics})
    return {"producers": nodes}


def _wall_ns(monotonic: float | None) -> int:
    """A monotonic instant as Unix nanoseconds (0 for never)."""
    return 0 if monotonic is None else int((time.time() - time.monotonic() + monotonic) * 1e9)


def do_debug(lookupd: Lookupd, p: Params):
    """Every registration with its producers, keyed "category:key:subkey"."""
    return {":".join(reg): [{"id": pr.peer.id, **pr.peer.to_json(),
                             "last_update": _wall_ns(pr.peer.last_update),
                             "tombstoned": pr.tombstoned_at is not None,
                             "tombstoned_at": _wall_ns(pr.tombstoned_at)} for pr in producers]
            for reg, producers in lookupd.db.items()}


def do_topic_create(lookupd: Lookupd, p: Params):
    topic = p.get("topic", "MISSING_ARG_TOPIC")
    if not is_valid_name(topic):
        raise HTTPError(400, "INVALID_ARG_TOPIC")
    log.info("DB: adding topic(%s)", topic)
    lookupd.db.add_registration(Registration("topic", topic, ""))


def do_topic_delete(lookupd: Lookupd, p: Params):
    topic = p.get("topic", "MISSING_ARG_TOPIC")
    db = lookupd.db
    for reg in db.find_registrations("channel", topic, ANY):
        log.info("DB: removing channel(%s) from topic(%s)", reg.subkey, topic)
        db.remove_registration(reg)
    for reg in db.find_registrations("topic", topic, ""):
        log.info("DB: removing topic(%s)", topic)
        db.remove_registration(reg)


def do_topic_tombstone(lookupd: Lookupd, p: Params):
    topic = p.get("topic", "MISSING_ARG_TOPIC")
    node = p.get("node", "MISSING_ARG_NODE")
    log.info("DB: setting tombstone for producer@%s of topic(%s)", node, topic)
    for producer in lookupd.db.find_producers("topic", topic, ""):
        if producer.peer.http_node == node:
            producer.tombstone()


def do_channel_create(lookupd: Lookupd, p: Params):
    topic, channel = p.topic_and_channel()
    log.info("DB: adding channel(%s) in topic(%s)", channel, topic)
    lookupd.db.add_registration(Registration("channel", topic, channel))
    lookupd.db.add_registration(Registration("topic", topic, ""))


def do_channel_delete(lookupd: Lookupd, p: Params):
    topic, channel = p.topic_and_channel()
    regs = lookupd.db.find_registrations("channel", topic, channel)
    if not regs:
        raise HTTPError(404, "CHANNEL_NOT_FOUND")
    log.info("DB: removing channel(%s) from topic(%s)", channel, topic)
    for reg in regs:
        lookupd.db.remove_registration(reg)


ROUTES: dict[str, tuple[str, Callable]] = {
    "/info": ("GET", do_info),
    "/debug": ("GET", do_debug),
    "/lookup": ("GET", do_lookup),
    "/topics": ("GET", do_topics),
    "/channels": ("GET", do_channels),
    "/nodes": ("GET", do_nodes),
    "/topic/create": ("POST", do_topic_create),
    "/topic/delete": ("POST", do_topic_delete),
    "/topic/tombstone": ("POST", do_topic_tombstone),
    "/channel/create": ("POST", do_channel_create),
    "/channel/delete": ("POST", do_channel_delete),
}


# -- tornado glue ---------------------------------------------------------------------------
class _Handler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")

    def initialize(self, lookupd: Lookupd) -> None:
        self.lookupd = lookupd
        self._start = time.monotonic()

    def _dispatch(self) -> None:
        path, method = self.request.path, self.request.method
        if path == "/ping" and method == "GET":  # plain text, as nsqlookupd's /ping
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            return self._finish(200, b"OK")
        route = ROUTES.get(path)
        try:
            if route is None and path != "/ping":
                raise HTTPError(404, "NOT_FOUND")
            if route is None or method != route[0]:
                raise HTTPError(405, "METHOD_NOT_ALLOWED")
            data = route[1](self.lookupd, Params(parse_query(self.request.query)))
        except HTTPError as err:
            code, data = err.code, {"message": err.text}
        else:
            code = 200
        self.set_header("X-NSQ-Content-Type", "nsq; version=1.0")
        if data is None:
            self.clear_header("Content-Type")
            return self._finish(code, b"")
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self._finish(code, json.dumps(data, separators=(",", ":")).encode())

    def compute_etag(self) -> None:  # nsqlookupd sends no ETag
        return None

    def _finish(self, code: int, body: bytes) -> None:
        self.clear_header("Server")
        self.set_status(code)
        self.write(body)
        log.info("%d %s %s (%s) %.3fms", code, self.request.method, self.request.uri,
                 self.request.remote_ip, (time.monotonic() - self._start) * 1000)

    get = post = put = delete = head = patch = options = _dispatch


def start_http_server(lookupd: Lookupd, host: str, port: int,
                      options: Options) -> tuple[GatedHTTPServer, int]:
    """Listen on --http-address (behind the broker's gate: non-HTTP is 400, stalls dropped);
    returns the server and the bound port."""
    app = tornado.web.Application([(r".*", _Handler, {"lookupd": lookupd})],
                                  log_function=lambda handler: None)
    server = GatedHTTPServer(app, max_header_size=MAX_HEADER_SIZE,
                             header_timeout=options.http_header_timeout,
                             idle_connection_timeout=options.http_idle_timeout,
                             body_timeout=options.http_idle_timeout, logger=log)
    sockets = tornado.netutil.bind_sockets(port, host)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]
