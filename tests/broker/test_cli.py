"""The mr_broker process: server-style logs, lookupd peers, clean stop on signals."""
import signal
import subprocess
import sys

from tests.support.broker import start_broker


def test_sigint_stops_cleanly_and_logs(tmp_path):
    broker = start_broker(tmp_path, "--lookupd-tcp-address", "127.0.0.1:4160",
                          "--lookupd-tcp-address", "127.0.0.1:4161")
    broker.proc.send_signal(signal.SIGINT)
    assert broker.proc.wait(timeout=20) == 0
    log = broker.log()
    assert f"TCP: listening on 127.0.0.1:{broker.tcp_port}" in log
    assert "LOOKUP(127.0.0.1:4160): adding peer" in log  # registration: tests/lookupd
    assert "LOOKUP(127.0.0.1:4161): adding peer" in log
    assert "signal received, shutting down" in log and "NSQ: bye" in log


def test_version():
    run = subprocess.run([sys.executable, "-m", "mr.broker", "--version"], capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 0 and run.stdout.startswith("mr_broker v")
