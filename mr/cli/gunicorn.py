"""mr_start_gunicorn_dev / mr_start_gunicorn_prod: run the front-end under gunicorn + gevent.

Extra arguments go to gunicorn unchanged (e.g. --bind 127.0.0.1:9000 --workers 4).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from mr.resource_files import GUNICORN_DEV, GUNICORN_PROD

APP = "mr.web.app:app"


def _start(config: Path) -> None:
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        print(f"usage: {Path(sys.argv[0]).name} [gunicorn options]\n\n"
              f"Start the mr front-end ({APP}) under gunicorn with gevent workers, using\n"
              f"{config}. Options are passed to gunicorn; MR_* variables\n"
              f"configure the engine (MR_ETCD_HOSTS, MR_NSQD_HTTP_HOSTS, ...), MR_HTTP_BIND\n"
              f"and MR_HTTP_WORKERS the server.")
        return
    argv = [sys.executable, "-m", "gunicorn", "-c", str(config), *sys.argv[1:], APP]
    os.execv(sys.executable, argv)


def dev() -> None:
    _start(GUNICORN_DEV)


def prod() -> None:
    _start(GUNICORN_PROD)
