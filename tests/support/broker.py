"""A real mr_broker process on free loopback ports, for any test that needs NSQ."""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mr.cluster import free_port, wait_for


@dataclass
class Broker:
    tcp_port: int
    http_port: int
    log_path: Path
    proc: subprocess.Popen

    @property
    def tcp_address(self) -> str:
        return f"127.0.0.1:{self.tcp_port}"

    @property
    def http_address(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    def url(self, path: str) -> str:
        return f"http://{self.http_address}{path}"

    def ping(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"mr_broker exited with {self.proc.returncode}; "
                               f"log:\n{self.log_path.read_text()}")
        try:
            with urllib.request.urlopen(self.url("/ping"), timeout=1) as reply:
                return reply.read() == b"OK"
        except OSError:
            return False

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM (clean shutdown: queued and in-flight messages are persisted) and wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> int:
        """SIGKILL: a crash, no shutdown work at all."""
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(timeout=20)

    def log(self) -> str:
        return self.log_path.read_text()

    def http_connections(self) -> int:
        """Open TCP connections to the HTTP port, counted from the kernel's table (/proc)."""
        return established_to(self.http_port)


def established_to(port: int) -> int:
    """How many established IPv4 connections have their server end on this loopback port."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
            count += 1
    return count


def start_broker(tmp_path: Path, *extra_flags: str, timeout: float = 20,
                 ports: tuple[int, int] | None = None) -> Broker:
    """Start `python -m mr.broker` and return once GET /ping answers OK.

    `ports` (tcp, http) restarts a broker where its clients expect it; default: free ports.
    """
    tcp_port, http_port = ports or (free_port(), free_port())
    log_path = Path(tmp_path) / f"mr_broker-{tcp_port}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mr.broker", "--tcp-address", f"127.0.0.1:{tcp_port}",
             "--http-address", f"127.0.0.1:{http_port}", *extra_flags],
            stdout=log, stderr=subprocess.STDOUT)
    broker = Broker(tcp_port, http_port, log_path, proc)
    try:
        wait_for(broker.ping, timeout=timeout, message=f"mr_broker on {broker.http_address}")
    except BaseException:
        broker.kill()
        raise
    return broker


@contextlib.contextmanager
def running_broker(tmp_path: Path, *extra_flags: str) -> Iterator[Broker]:
    """A broker for the length of a `with` block (a fixture's body), stopped cleanly after."""
    server = start_broker(tmp_path, *extra_flags)
    try:
        yield server
    finally:
        server.stop()
