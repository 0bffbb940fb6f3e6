"""nsqd's HTTP API: same paths, parameters, status codes and response bodies.

Served by tornado (already a dependency through pynsq) on the broker's event loop. Errors
are JSON `{"message": "CODE"}` like nsqd's V1 responses; bodies beyond the limits are
counted but not kept, so an oversize request costs no memory.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from urllib.parse import parse_qs

import tornado.netutil
import tornado.web

from mr.broker import stats
from mr.broker.core import BrokerCore
from mr.broker.http_gate import MAX_HEADER_SIZE, GatedHTTPServer
from mr.broker.options import VERSION, split_address
from mr.broker.protocol import FatalClientError, decode_mpub, is_valid_name

log = logging.getLogger("mr.broker")

_BOOL_PARAMS = {"true": True, "1": True, "false": False, "0": False}


class HTTPError(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class Request:
    """What a route needs: query parameters (first value wins, as in Go) and the body."""

    def __init__(self, path: str, query: dict[str, list[str]], body: bytes, body_size: int,
                 content_length: int | None) -> None:
        self.path = path
        self.query = query
        self.body = body
        self.body_size = body_size
        self.content_length = content_length

    def get(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


# -- routes ---------------------------------------------------------------------------------
def _topic_for_publish(broker: BrokerCore, req: Request):
    name = req.get("topic")
    if name is None:
        raise HTTPError(400, "MISSING_ARG_TOPIC")
    if not is_valid_name(name):
        raise HTTPError(400, "INVALID_TOPIC")
    return broker.get_topic(name)


def _existing_topic(broker: BrokerCore, req: Request, check_name: bool = False):
    name = req.get("topic")
    if name is None:
        raise HTTPError(400, "MISSING_ARG_TOPIC")
    if check_name and not is_valid_name(name):
        raise HTTPError(400, "INVALID_TOPIC")
    topic = broker.topics.get(name)
    if topic is None:
        raise HTTPError(404, "TOPIC_NOT_FOUND")
    return topic


def _topic_and_channel_name(broker: BrokerCore, req: Request):
    topic_name, channel_name = req.get("topic"), req.get("channel")
    if topic_name is None:
        raise HTTPError(400, "MISSING_ARG_TOPIC")
    if not is_valid_name(topic_name):
        raise HTTPError(400, "INVALID_ARG_TOPIC")
    if channel_name is None:
        raise HTTPError(400, "MISSING_ARG_CHANNEL")
    if not is_valid_name(channel_name):
        raise HTTPError(400, "INVALID_ARG_CHANNEL")
    topic = broker.topics.get(topic_name)
    if topic is None:
        raise HTTPError(404, "TOPIC_NOT_FOUND")
    return topic, channel_name


def _existing_channel(broker: BrokerCore, req: Request):
    topic, name = _topic_and_channel_name(broker, req)
    channel = topic.channels.get(name)
    if channel is None:
        raise HTTPError(404, "CHANNEL_NOT_FOUND")
    return channel


def do_ping(broker: BrokerCore, req: Request):
    return stats.HEALTH_OK


def do_info(broker: BrokerCore, req: Request):
    opts = broker.options
    return {
        "version": VERSION,
        "broadcast_address": opts.broadcast_address,
        "hostname": os.uname().nodename,
        "http_port": broker.http_port,
        "tcp_port": broker.tcp_port,
        "start_time": broker.start_time,
        "max_heartbeat_interval": int(opts.max_heartbeat_interval * 1e9),  # Go Duration: ns
        "max_output_buffer_size": opts.max_output_buffer_size,
        "max_output_buffer_timeout": int(opts.max_output_buffer_timeout * 1e9),
        "max_deflate_level": opts.max_deflate_level,
        "topology_zone": "",
        "topology_region": "",
    }


def do_pub(broker: BrokerCore, req: Request):
    max_size = broker.options.max_msg_size
    if (req.content_length or 0) > max_size or req.body_size > max_size:
        raise HTTPError(413, "MSG_TOO_BIG")
    if req.body_size == 0:
        raise HTTPError(400, "MSG_EMPTY")
    topic = _topic_for_publish(broker, req)
    delay = 0.0
    raw = req.get("defer")
    if raw is not None:
        try:
            delay_ms = int(raw)
        except ValueError:
            raise HTTPError(400, "INVALID_DEFER") from None
        if not 0 <= delay_ms <= broker.options.max_req_timeout * 1000:
            raise HTTPError(400, "INVALID_DEFER")
        delay = delay_ms / 1000.0
    topic.put([broker.new_message(req.body)], delay)
    return "OK"


def do_mpub(broker: BrokerCore, req: Request):
    opts = broker.options
    if (req.content_length or 0) > opts.max_body_size:
        raise HTTPError(413, "BODY_TOO_BIG")
    topic = _topic_for_publish(broker, req)
    raw = req.get("binary")
    binary = False if raw is None else _BOOL_PARAMS.get(raw, True)
    if binary:
        try:
            bodies = decode_mpub(req.body, opts.max_msg_size, opts.max_body_size)
        except FatalClientError as err:
            raise HTTPError(413, err.code[2:]) from err
    else:
        if req.body_size > opts.max_body_size:
            raise HTTPError(413, "BODY_TOO_BIG")
        bodies = [line for line in req.body.split(b"\n") if line]
        if any(len(line) > opts.max_msg_size for line in bodies):
            raise HTTPError(413, "MSG_TOO_BIG")
    if bodies:
        topic.put([broker.new_message(b) for b in bodies])
    return "OK"


def do_stats(broker: BrokerCore, req: Request):
    include_clients = _BOOL_PARAMS.get(req.get("include_clients") or "", True)
    data = stats.collect(broker, req.get("topic") or "", req.get("channel") or "",
                         include_clients)
    if req.get("format") == "json":
        return data
    return stats.render_text(data).encode()


def do_topic_create(broker: BrokerCore, req: Request):
    _topic_for_publish(broker, req)


def do_topic_delete(broker: BrokerCore, req: Request):
    name = req.get("topic")
    if name is None:
        raise HTTPError(400, "MISSING_ARG_TOPIC")
    if not broker.delete_topic(name):
        raise HTTPError(404, "TOPIC_NOT_FOUND")
    broker.persist_metadata()


def do_topic_empty(broker: BrokerCore, req: Request):
    _existing_topic(broker, req, check_name=True).empty()


def do_topic_pause(broker: BrokerCore, req: Request):
    topic = _existing_topic(broker, req)
    topic.unpause() if req.path.endswith("unpause") else topic.pause()
    broker.persist_metadata()  # so a restart does not silently (un)pause it


def do_channel_create(broker: BrokerCore, req: Request):
    topic, name = _topic_and_channel_name(broker, req)
    topic.get_channel(name)


def do_channel_delete(broker: BrokerCore, req: Request):
    topic, name = _topic_and_channel_name(broker, req)
    if not topic.delete_channel(name):
        raise HTTPError(404, "CHANNEL_NOT_FOUND")
    broker.persist_metadata()


def do_channel_empty(broker: BrokerCore, req: Request):
    _existing_channel(broker, req).empty()


def do_channel_pause(broker: BrokerCore, req: Request):
    channel = _existing_channel(broker, req)
    channel.unpause() if req.path.endswith("unpause") else channel.pause()
    broker.persist_metadata()


ROUTES: dict[str, tuple[str, Callable]] = {
    "/ping": ("GET", do_ping),
    "/info": ("GET", do_info),
    "/pub": ("POST", do_pub),
    "/mpub": ("POST", do_mpub),
    "/stats": ("GET", do_stats),
    "/topic/create": ("POST", do_topic_create),
    "/topic/delete": ("POST", do_topic_delete),
    "/topic/empty": ("POST", do_topic_empty),
    "/topic/pause": ("POST", do_topic_pause),
    "/topic/unpause": ("POST", do_topic_pause),
    "/channel/create": ("POST", do_channel_create),
    "/channel/delete": ("POST", do_channel_delete),
    "/channel/empty": ("POST", do_channel_empty),
    "/channel/pause": ("POST", do_channel_pause),
    "/channel/unpause": ("POST", do_channel_pause),
}


# -- tornado glue ---------------------------------------------------------------------------
@tornado.web.stream_request_body
class _Handler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")

    def initialize(self, broker: BrokerCore) -> None:
        self.broker = broker
        opts = broker.options
        self._cap = max(opts.max_body_size, opts.max_msg_size) + 1
        self._chunks: list[bytes] = []
        self._size = 0
        self._start = time.monotonic()

    def data_received(self, chunk: bytes) -> None:
        if self._size < self._cap:
            self._chunks.append(chunk)
        self._size += len(chunk)

    def _dispatch(self) -> None:
        route = ROUTES.get(self.request.path)
        try:
            if route is None:
                raise HTTPError(404, "NOT_FOUND")
            method, handler = route
            if self.request.method != method:
                raise HTTPError(405, "METHOD_NOT_ALLOWED")
            length = self.request.headers.get("Content-Length")
            req = Request(self.request.path, parse_qs(self.request.query, keep_blank_values=True),
                          b"".join(self._chunks), self._size,
                          int(length) if length and length.isdigit() else None)
            self._respond(200, handler(self.broker, req))
        except HTTPError as err:
            self._respond(err.code, {"message": err.text})

    def _respond(self, code: int, data) -> None:
        self.set_status(code)
        self.set_header("X-NSQ-Content-Type", "nsq; version=1.0")
        if isinstance(data, dict):
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.write(json.dumps(data, separators=(",", ":")))
        else:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            if data is not None:
                self.write(data)
        log.info("%d %s %s (%s) %.3fms", code, self.request.method, self.request.uri,
                 self.request.remote_ip, (time.monotonic() - self._start) * 1000)

    get = post = put = delete = head = patch = options = _dispatch


def start_http_server(broker: BrokerCore) -> tuple[GatedHTTPServer, int]:
    """Listen on --http-address; returns the server and the bound port."""
    app = tornado.web.Application([(r".*", _Handler, {"broker": broker})],
                                  log_function=lambda handler: None)
    opts = broker.options
    server = GatedHTTPServer(app, max_body_size=1 << 40, max_header_size=MAX_HEADER_SIZE,
                             header_timeout=opts.http_header_timeout,
                             idle_connection_timeout=opts.http_idle_timeout,
                             body_timeout=opts.http_idle_timeout)
    host, port = split_address(broker.options.http_address)
    sockets = tornado.netutil.bind_sockets(port, host)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]
