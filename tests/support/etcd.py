"""A real, throwaway etcd server on free loopback ports (never 2379/2380)."""
from __future__ import annotations

import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port
from tests.support.wait import wait_for


@dataclass
class Etcd:
    client_port: int
    peer_port: int
    data_dir: Path
    proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self) -> "Etcd":
        url = f"http://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        binary = shutil.which("etcd") or "/usr/bin/etcd"
        log = open(self.data_dir.parent / "etcd.log", "ab")
        self.proc = subprocess.Popen(
            [binary, "--name", "t1", "--data-dir", str(self.data_dir),
             "--listen-client-urls", url, "--advertise-client-urls", url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"t1={peer}", "--log-level", "error"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._healthy, timeout=20, message=f"etcd on {self.address}")
        return self

    def _healthy(self) -> bool:
        import urllib.request
        if self.proc.poll() is not None:
            raise RuntimeError(f"etcd exited with {self.proc.returncode}; see etcd.log")
        try:
            with urllib.request.urlopen(f"http://{self.address}/health", timeout=1) as reply:
                return b"true" in reply.read()
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)


def start_etcd(tmp_path: Path) -> Etcd:
    data = tmp_path / "etcd-data"
    return Etcd(free_port(), free_port(), data).start()
