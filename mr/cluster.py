"""Start and stop the processes of a cluster on this machine (dev cluster and tests).

Each Service is a real process with its own log file; readiness is waited for with a deadline
by probing what the process serves, never by sleeping.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from mr.resource_files import GUNICORN_DEV

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_on_free_ports(make: Callable[[], Service], attempts: int = 3) -> Service:
    """Start the service `make()` builds on free ports, and again on new ones when another
    process took a port between free_port() and the bind (a race free_port cannot close)."""
    for _ in range(attempts - 1):
        try:
            return make().start()
        except RuntimeError as exc:
            if "Address already in use" not in str(exc):
                raise
    return make().start()


def wait_for(condition: Callable[[], T], timeout: float = 10.0, message: str = "condition",
             process: subprocess.Popen | None = None, log: Path | None = None,
             interval: float = 0.05) -> T:
    """condition()'s first truthy value, waited for with a deadline (never a fixed sleep).

    With `process`, fail at once (with the tail of `log`) if it exits while we wait.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{message} exited with status {process.returncode}\n{tail}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {message}"
                               + (f"; see {log}" if log else ""))
        time.sleep(interval)


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                return reply.status == 200
        except OSError:
            return False
    return check


def pid_alive(pid: int) -> bool:
    """Whether a process runs (one this process did not start: no wait() possible).

    A zombie (exited, not yet reaped by whoever adopted it) counts as gone.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def terminate(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM a process started by an earlier command; SIGKILL it if it outlives `timeout`."""
    try:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not pid_alive(pid), timeout, f"pid {pid} to exit")
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def unix_http_ok(sock: Path) -> Callable[[], bool]:
    """True once an HTTP server on the unix socket answers GET / with 200."""
    def check() -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as client:
                client.settimeout(1)
                client.connect(str(sock))
                client.sendall(b"GET / HTTP/1.0\r\nHost: mr\r\n\r\n")
                return client.recv(64).split(b"\r\n")[0].endswith(b" 200 OK")
        except OSError:
            return False
    return check


@dataclass
class Service:
    name: str
    argv: list[str]
    log_path: Path
    ready: Callable[[], bool] | None = None
    env: dict[str, str] = field(default_factory=dict)
    address: str = ""        # where clients reach it (etcd client URL host:port, broker TCP)
    http_address: str = ""   # broker HTTP
    url: str = ""            # front-end base URL
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0, wait: bool = True) -> Service:
        """Launch; with `wait`, return once ready (wait=False: call wait_ready later)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **self.env}, start_new_session=True)
        log.close()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> Service:
        if self.ready is not None:
            wait_for(self.ready, timeout, self.name, self.proc, self.log_path)
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _running(self) -> subprocess.Popen | None:
        """The process, while it runs."""
        return self.proc if self.proc is not None and self.proc.poll() is None else None

    def alive(self) -> bool:
        return self._running() is not None

    def stop(self, timeout: float = 20.0) -> None:
        proc = self._running()
        if proc is None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        proc = self._running()
        if proc is not None:
            proc.kill()
            proc.wait(10)


ETCD_RETENTION = "5m"  # history etcd keeps; watches resume within it, older ones re-read


def etcd(data_dir: Path, log_path: Path, client_port: int | None = None) -> Service:
    """A one-member etcd cluster."""
    client_port, peer_port = client_port or free_port(), free_port()
    member = etcd_member("mr", data_dir, log_path, client_port, peer_port,
                         f"mr=http://127.0.0.1:{peer_port}")
    return replace(member, name="etcd")


def etcd_member(name: str, data_dir: Path, log_path: Path, client_port: int, peer_port: int,
                initial_cluster: str) -> Service:
    """One member of a statically configured cluster ("name=http://host:peer_port,...").

    A member of a larger cluster is healthy only once a quorum runs: start them all, then wait.
    """
    url, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    binary = shutil.which("etcd") or "/usr/bin/etcd"
    return Service(name, [
        binary, "--name", name, "--data-dir", str(data_dir), "--listen-client-urls", url,
        "--advertise-client-urls", url, "--listen-peer-urls", peer,
        "--initial-advertise-peer-urls", peer, "--initial-cluster", initial_cluster,
        "--initial-cluster-state", "new", "--log-level", "error",
        # Without compaction etcd keeps every revision: memory and disk grow with each request
        # until its space quota stops all writes.
        "--auto-compaction-mode", "periodic", "--auto-compaction-retention", ETCD_RETENTION],
        log_path,
        http_ok(f"{url}/health"), address=f"127.0.0.1:{client_port}")


def broker(data_dir: Path, log_path: Path, tcp_port: int | None = None,
           http_port: int | None = None, *flags: str, name: str = "broker") -> Service:
    """mr_broker on loopback; `flags` are more nsqd flags (e.g. --lookupd-tcp-address=...)."""
    tcp_port, http_port = tcp_port or free_port(), http_port or free_port()
    return Service(name, [
        sys.executable, "-m", "mr.broker", f"--tcp-address=127.0.0.1:{tcp_port}",
        f"--http-address=127.0.0.1:{http_port}", f"--data-path={data_dir}", *flags],
        log_path, http_ok(f"http://127.0.0.1:{http_port}/ping"),
        address=f"127.0.0.1:{tcp_port}", http_address=f"127.0.0.1:{http_port}")


def lookupd(log_path: Path, tcp_port: int | None = None, http_port: int | None = None,
            *flags: str) -> Service:
    """mr_lookupd on loopback, broadcasting 127.0.0.1; `.http_address` is what readers query."""
    tcp_port, http_port = tcp_port or free_port(), http_port or free_port()
    return Service("lookupd", [
        sys.executable, "-m", "mr.lookupd", f"--tcp-address=127.0.0.1:{tcp_port}",
        f"--http-address=127.0.0.1:{http_port}", "--broadcast-address=127.0.0.1", *flags],
        log_path, http_ok(f"http://127.0.0.1:{http_port}/ping"),
        address=f"127.0.0.1:{tcp_port}", http_address=f"127.0.0.1:{http_port}")


def worker(name: str, env: dict[str, str], log_path: Path, *args: str) -> Service:
    """A worker is ready once it has registered itself in etcd; callers wait on that."""
    return Service(name, [sys.executable, "-m", "mr.worker", *args], log_path, env=env)


def front_end(env: dict[str, str], log_path: Path, port: int | None = None,
              workers: int = 2) -> Service:
    port = port or free_port()
    # the bind goes by MR_HTTP_BIND, from which the config also names its control socket
    return Service("gunicorn", [
        sys.executable, "-m", "gunicorn", "-c",
        str(GUNICORN_DEV),
        "--workers", str(workers), "mr.web.app:app"],
        log_path, http_ok(f"http://127.0.0.1:{port}/"),
        env={**env, "MR_HTTP_BIND": f"127.0.0.1:{port}"}, url=f"http://127.0.0.1:{port}")
