"""Hooks the gunicorn configs use; imports nothing heavy, because the master loads it.

prometheus_client picks its multiprocess mode when first imported, so the directory must be
in the environment before any process imports it — the master sets it here, before forking.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

from mr.config import MULTIPROC_ENV


def prepare_multiprocess() -> None:
    """A fresh directory for the workers' metric files (stale ones would add up forever)."""
    if os.environ.get(MULTIPROC_ENV):
        shutil.rmtree(os.environ[MULTIPROC_ENV], ignore_errors=True)
        os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)
    else:
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="mr-metrics-")


def child_exit(server, worker) -> None:
    """Forget the live gauges of a worker process that ended."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def control_socket(bind: str) -> str:
    """gunicorn's control socket for the front-end bound to `bind`: one per front-end, since
    gunicorn's default (~/.gunicorn/gunicorn.ctl) is shared by every front-end of a user, and
    the first to stop deletes it under the others."""
    if bind.startswith("unix:"):
        return bind[len("unix:"):] + ".ctl"
    folder = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(os.path.expanduser("~"),
                                                               ".gunicorn")
    return os.path.join(folder, f"mr-{re.sub(r'[^A-Za-z0-9.-]', '-', bind)}.ctl")


def answer_errors_in_json() -> None:
    """gunicorn answers a request it cannot parse (a URI too long: 414, bad or too many
    headers: 400, 431) itself, before the app sees it, and in HTML. Every other answer of the
    front-end is JSON {"error": ...}, so these are made JSON too."""
    from gunicorn import util

    def write_error(sock, status_int: int, reason: str, mesg: str) -> None:
        body = json.dumps({"error": f"{reason}: {mesg}" if mesg else reason}).encode()
        head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        util.write_nonblock(sock, head.encode("latin-1") + body)

    util.write_error = write_error
