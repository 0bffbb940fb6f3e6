"""Webhook notifications received by the real `mr_http_notification_listen` process: it says
where it listens, prints one JSON line per notification, ignores what is not JSON, and exits
after --count; a port in use is a clear error."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mr.cluster import wait_for
from mr.config import load
from mr.notify import Notifier

SCRIPT = "mr_http_notification_listen"


class Listener:
    """The script as a process, its stdout read line by line in a thread (no blocking read)."""

    def __init__(self, *args: str):
        binary = Path(sys.executable).parent / SCRIPT
        if not binary.exists():
            binary = shutil.which(SCRIPT)
        if binary is None:
            pytest.fail(f"{SCRIPT} is not installed: run `pip install -e .`")
        self.proc = subprocess.Popen([str(binary), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def first_line(self) -> str:
        return wait_for(lambda: self.lines and self.lines[0], 20, SCRIPT, self.proc)

    def url(self) -> str:
        line = self.first_line()
        assert line.startswith("listening on http://127.0.0.1:"), line
        return line.split()[-1]

    def finish(self) -> int:
        """Wait for the process to exit and for its last lines to be read."""
        code = self.proc.wait(timeout=20)
        self.reader.join(timeout=10)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def listener():
    started = []

    def start(*args: str) -> Listener:
        started.append(Listener(*args))
        return started[-1]
    yield start
    for one in started:
        one.stop()


def test_notifications_arrive_as_json_lines(listener):
    process = listener("--port", "0", "--count", "2")
    url = process.url()
    notifier = Notifier.from_settings(load({"MR_NOTIFY_WEBHOOK_URLS": url,
                                            "MR_NOTIFY_EVENTS": "request_failed,custom"}))
    notifier.notify("request_done", "not enabled: never sent", {})
    notifier.notify("request_failed", "request r1 failed", {"request_id": "r1", "n": [1, 2]})
    notifier.notify("custom", "disk almost full", {"free_gb": 3})
    assert notifier.flush(20)
    assert process.finish() == 0        # exits by itself after --count 2
    received = [json.loads(line) for line in process.lines[1:]]
    assert [(r["event"], r["subject"], r["details"]) for r in received] == [
        ("request_failed", "request r1 failed", {"request_id": "r1", "n": [1, 2]}),
        ("custom", "disk almost full", {"free_gb": 3})]
    assert all(set(r) == {"event", "subject", "details", "host", "time"} for r in received)


def test_a_body_that_is_not_json_is_refused_and_not_counted(listener):
    process = listener("--port", "0", "--once", "--json")
    url = json.loads(process.first_line())["listening"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=b"not json", method="POST"),
                               timeout=10)
    assert refused.value.code == 400
    with urllib.request.urlopen(urllib.request.Request(url, data=b'{"event": "custom"}',
                                                       method="POST"), timeout=10) as reply:
        assert reply.status == 200
    assert process.finish() == 0
    assert process.lines[1:] == ['{"event": "custom"}']
    assert "POSTed a body that is not JSON" in process.proc.stderr.read()


def test_port_in_use_is_a_clear_error(listener):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = listener("--port", str(port))
        assert process.finish() == 2
    error = process.proc.stderr.read()
    assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use; pick another " \
           f"--port (0 picks a free one)" in error
    assert "Traceback" not in error
