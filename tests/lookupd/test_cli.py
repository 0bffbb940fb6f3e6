"""The mr_lookupd process: nsqlookupd's flags, clear refusals, a clean stop on signals."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.lookupd.conftest import start_lookupd


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mr.lookupd", *args], capture_output=True,
                          text=True, timeout=30)


def test_version_and_help():
    assert run("--version").stdout.startswith("mr_lookupd v1.3.0")
    helped = run("--help")
    assert helped.returncode == 0
    for flag in ("--tcp-address", "--http-address", "--broadcast-address",
                 "--inactive-producer-timeout", "--tombstone-lifetime"):
        assert flag in helped.stdout


@pytest.mark.parametrize("args, expect", [
    (("--inactive-producer-timeout", "soon"), "invalid duration 'soon'"),
    (("--tombstone-lifetime=-1s",), "--tombstone-lifetime must not be negative"),
    (("--config", "nsqlookupd.cfg"), "--config is not supported by mr_lookupd"),
    (("--bogus",), "unrecognized arguments: --bogus"),
])
def test_bad_flags_exit_2_with_a_hint(args, expect):
    done = run(*args)
    assert done.returncode == 2
    assert expect in done.stderr and "Run 'mr_lookupd --help'" in done.stderr


def test_busy_address_and_clean_stop(tmp_path):
    server = start_lookupd(tmp_path, "-log-prefix=[test] ")
    busy = run(f"--tcp-address={server.address}", "--http-address=127.0.0.1:0")
    assert busy.returncode == 1 and "failed to start" in busy.stderr
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(20) == 0
    log = server.log_path.read_text()
    assert "[test] " in log and f"TCP: listening on {server.address}" in log
    assert "signal received, shutting down" in log and "LOOKUPD: bye" in log
