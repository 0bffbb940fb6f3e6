"""The compared systems. Each has the same methods: start(dir), stop(), worker_pids(),
counters(), and one per workload — fanout(n), nested(n), single(i), wordcount(chunks) —
returning the answer so the harness can check it.

The peers are optional: `missing()` says what to install before they can run.
"""
from __future__ import annotations

import importlib.util
import shutil

NAMES = ("mr", "celery", "dask")

INSTALL_PY = "pip install -e '.[bench]' (scripts/bench does it into .venv)"
INSTALL_REDIS = "apt-get install redis-server (scripts/bench does it)"


def missing(name: str) -> list[str]:
    """What system `name` lacks on this machine, each with the command that installs it."""
    problems = []
    modules = {"mr": [], "celery": ["celery", "redis"], "dask": ["dask", "distributed"]}[name]
    for module in modules:
        if importlib.util.find_spec(module) is None:
            problems.append(f"{name}: Python package {module!r} is not installed: {INSTALL_PY}")
    if name == "celery" and not (shutil.which("redis-server") or
                                 shutil.which("redis-server", path="/usr/bin:/usr/sbin")):
        problems.append(f"celery: redis-server is not installed: {INSTALL_REDIS}")
    if name == "mr" and not (shutil.which("etcd") or shutil.which("etcd", path="/usr/bin")):
        problems.append("mr: etcd is not installed: scripts/install (apt-get install "
                        "etcd-server)")
    return problems


def stop_services(services: list) -> None:
    """Stop every service, last started first, even when one of them fails to stop."""
    try:
        for service in reversed(services):
            try:
                service.stop()
            except Exception:
                service.kill()
    finally:
        services.clear()


def running_services(services: list) -> dict[str, int]:
    """Each running service's pid by its name: the processes a system's CPU is counted over
    (each with its descendants)."""
    return {service.name: service.pid for service in services if service.alive()}


def create(name: str, concurrency: int = 64):
    """A stopped instance of system `name`."""
    if name == "mr":
        from benchmarks.systems.mr_engine import MrEngine
        return MrEngine(concurrency=concurrency)
    if name == "celery":
        from benchmarks.systems.celery_peer import CeleryPeer
        return CeleryPeer()
    if name == "dask":
        from benchmarks.systems.dask_peer import DaskPeer
        return DaskPeer()
    raise ValueError(f"unknown system {name!r}; choose from {', '.join(NAMES)}")
