"""mr_http_notification_listen: a small HTTP server that prints every notification POSTed to it,
one JSON line each, to check MR_NOTIFY_WEBHOOK_URLS end to end."""
from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mr.cli.common import run
from mr.errors import UserError

MAX_BODY = 1024 * 1024


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mr_http_notification_listen",
        description="Listen for webhook notifications (point MR_NOTIFY_WEBHOOK_URLS here) and "
                    "print each one as a JSON line. The first line says where it listens "
                    "(with --port 0, on a free port).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=3333,
                        help="port to bind (default 3333; 0 picks a free one)")
    parser.add_argument("--json", action="store_true",
                        help='print the first line as JSON too: {"listening": URL}')
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--once", action="store_true", help="exit after one notification")
    stop.add_argument("--count", type=int, metavar="N", help="exit after N notifications")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0-65535, not {args.port}")
    if args.count is not None and args.count < 1:
        parser.error(f"--count must be at least 1, not {args.count}")
    if args.once:
        args.count = 1
    return args


class Listener(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], limit: int | None):
        super().__init__(address, Receive)
        self.limit, self.received = limit, 0
        self.lock = threading.Lock()

    def record(self, notification: object) -> None:
        """Print one notification; stop serving once `limit` were printed."""
        with self.lock:
            if self.limit is not None and self.received >= self.limit:
                return
            print(json.dumps(notification, ensure_ascii=False), flush=True)
            self.received += 1
            if self.limit is not None and self.received >= self.limit:
                threading.Thread(target=self.shutdown, daemon=True).start()


class Receive(BaseHTTPRequestHandler):
    server: Listener

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.answer(413, f"body over {MAX_BODY} bytes")
            return
        body = self.rfile.read(length)
        try:
            notification = json.loads(body)
        except ValueError as exc:
            print(f"error: {self.client_address[0]} POSTed a body that is not JSON ({exc})",
                  file=sys.stderr, flush=True)
            self.answer(400, f"not JSON: {exc}")
            return
        self.answer(200, "ok")
        self.server.record(notification)

    def do_GET(self) -> None:
        self.answer(200, "mr_http_notification_listen: POST notifications (JSON) here")

    def answer(self, status: int, text: str) -> None:
        data = (text + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:   # noqa: A002 - the base's name
        pass   # stdout carries the notifications only


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        server = Listener((args.host, args.port), args.count)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
                        f"pick another --port (0 picks a free one)") from None
    host, port = server.server_address[:2]
    assert isinstance(host, str)  # as an AF_INET socket names itself
    url = f"http://{host}:{port}/"
    print(json.dumps({"listening": url}) if args.json else f"listening on {url}", flush=True)
    with server:
        server.serve_forever(poll_interval=0.2)
    return 0


def console() -> None:
    run(main)
