"""A real HTTP server for webhook tests: it records each POST and answers with the statuses it
was given (then 200), or it accepts connections and never answers (a stalled webhook)."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Inbox:
    def __init__(self, statuses: list[int] | None = None):
        self.received: list[dict] = []
        self.attempts = 0
        self.statuses = list(statuses or [])
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    inbox.attempts += 1
                    status = inbox.statuses.pop(0) if inbox.statuses else 200
                    if status == 200:
                        inbox.received.append({"body": json.loads(body),
                                               "content_type": self.headers["Content-Type"]})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def bodies(self) -> list[dict]:
        return [entry["body"] for entry in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Stalled:
    """Listens but never accepts: a client connects, sends, and waits for an answer until it
    gives up or the socket is closed (close() resets the waiting connections at once)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def close(self) -> None:
        self.sock.close()
