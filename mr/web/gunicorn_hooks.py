"""Hooks the gunicorn configs use; imports nothing heavy, because the master loads it.

prometheus_client picks its multiprocess mode when first imported, so the directory must be
in the environment before any process imports it — the master sets it here, before forking.
"""
from __future__ import annotations

import os
import shutil
import tempfile

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


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
