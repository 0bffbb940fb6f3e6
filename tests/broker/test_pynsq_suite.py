"""pynsq's own test suite, run against mr_broker and mr_lookupd instead of nsqd and nsqlookupd.

pynsq's integration tests start `nsqd ...` and `nsqlookupd ...` from PATH on nsqd's default
ports; here PATH starts with shims that exec mr_broker and mr_lookupd with the same flags.
pynsq's source distribution on PyPI carries no tests, so the suite comes from a pynsq source
tree named by MR_PYNSQ_SRC (e.g. `git clone -b v0.9.1 https://github.com/nsqio/pynsq`); the
test is skipped without one, and when another process holds nsqd's ports (the dev cluster).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORTS = (4150, 4151, 4160, 4161)
# They fail whatever the broker (they start none): pynsq's backoff tests ask tornado for the
# current event loop outside of any, which Python 3.10+ refuses ("no current event loop").
ENVIRONMENT_FAILURES = {
    "tests.test_backoff::test_backoff_hard",
    "tests.test_backoff::test_backoff_many_conns",
    "tests.test_backoff::test_backoff_conns_disconnect",
}


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _shim(path: Path, command: str) -> None:
    path.write_text(f"#!/bin/sh\nexec {command} \"$@\"\n")
    path.chmod(0o755)


def _outcomes(report: Path) -> dict[str, str]:
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        outcomes[name] = ("failed" if kinds & {"failure", "error"} else
                          "skipped" if "skipped" in kinds else "passed")
    return outcomes


def test_pynsq_suite_passes_against_mr_broker(tmp_path):
    source = os.environ.get("MR_PYNSQ_SRC")
    if not source or not (Path(source) / "tests").is_dir():
        pytest.skip("set MR_PYNSQ_SRC to a pynsq source tree (its PyPI sdist has no tests)")
    if any(_port_taken(port) for port in PORTS):
        pytest.skip(f"nsqd's ports {PORTS} are in use; pynsq's tests need them")
    bin_dir, data_dir, extra = tmp_path / "bin", tmp_path / "data", tmp_path / "site"
    for directory in (bin_dir, data_dir, extra):
        directory.mkdir()
    _shim(bin_dir / "nsqd", f"{sys.executable} -m mr.broker --data-path={data_dir}")
    _shim(bin_dir / "nsqlookupd", f"{sys.executable} -m mr.lookupd")
    # pynsq's tests import the `mock` backport; the standard library's is the same API
    (extra / "mock.py").write_text("from unittest.mock import *  # noqa: F401,F403\n")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(extra)]),
               PYTHONDONTWRITEBYTECODE="1")
    report = tmp_path / "report.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          f"--junitxml={report}", "tests"], cwd=source, env=env,
                         capture_output=True, text=True, timeout=600)
    outcomes = _outcomes(report)
    failed = {name for name, outcome in outcomes.items() if outcome == "failed"}
    passed = sum(outcome == "passed" for outcome in outcomes.values())
    print(f"pynsq suite against mr_broker: {passed} passed, {len(failed)} failed "
          f"({len(failed & ENVIRONMENT_FAILURES)} of them start no broker)")
    assert failed <= ENVIRONMENT_FAILURES, run.stdout[-5000:]
    assert passed >= 70, run.stdout[-5000:]
