"""pynsq's own test suite run against mr_broker and mr_lookupd in place of nsqd and nsqlookupd.

    scripts/pynsq_suite --source PYNSQ_TREE      (or MR_PYNSQ_SRC=PYNSQ_TREE scripts/pynsq_suite)

pynsq's integration tests start `nsqd ...` and `nsqlookupd ...` from PATH on nsqd's default
ports (4150, 4151, 4160, 4161); here PATH starts with two shims that exec `python -m mr.broker`
and `python -m mr.lookupd` with the same flags. pynsq's source distribution on PyPI carries no
tests, so the suite comes from a pynsq source tree: its git repository at tag v0.9.1 (the
release pinned in setup.py), e.g. `git clone -b v0.9.1 https://github.com/nsqio/pynsq`.
pynsq's tests run unchanged, from that tree (they import its `nsq` package, not the installed
one), with two things their CI (Python <= 3.8, tornado <= 6.0) had and this environment lacks:
  - the `mock` backport: a module `mock` that re-exports unittest.mock (the same API);
  - a current asyncio event loop at the start of each test. tornado >= 6.3's AsyncTestCase
    leaves none after its tearDown (set_event_loop(None)), and three backoff tests that follow
    such a class in tests/test_backoff.py build a tornado Future outside any loop, which fails
    with "There is no current event loop" whatever the broker (they start none).
    --without-loop-shim runs them without it, to see that.
Prints each test's outcome and 'N passed, N failed'; exits 0 when nothing failed, 1 when
something did, 2 when the suite cannot run (no source tree, nsqd's ports taken).
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PORTS = (4150, 4151, 4160, 4161)
PYNSQ_TAG = "v0.9.1"
PYNSQ_COMMIT = "65a822ebaf53ed0451eb62d0b870595b25d1bf66"  # what the tag names
CLONE = f"git clone -b {PYNSQ_TAG} https://github.com/nsqio/pynsq"
# The three tests the event loop shim is for (see above).
LOOP_SHIM_TESTS = (
    "tests.test_backoff::test_backoff_hard",
    "tests.test_backoff::test_backoff_many_conns",
    "tests.test_backoff::test_backoff_conns_disconnect",
)
LOOP_SHIM = '''"""Each test starts with a current asyncio event loop, as under tornado < 6.3."""
import asyncio

import pytest


@pytest.fixture(autouse=True)
def _current_event_loop():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()
'''


class CannotRun(Exception):
    """The suite cannot run here: no pynsq source tree, or nsqd's ports are in use."""


def source_tree(given: str | None) -> Path:
    """The pynsq tree named by --source or MR_PYNSQ_SRC, checked to hold pynsq's tests."""
    given = given or os.environ.get("MR_PYNSQ_SRC")
    if not given:
        raise CannotRun(f"no pynsq source tree: pass --source DIR or set MR_PYNSQ_SRC (pynsq's "
                        f"PyPI sdist has no tests; get them with `{CLONE}`)")
    tree = Path(given).resolve()
    if not (tree / "tests" / "test_reader.py").is_file() or not (tree / "nsq").is_dir():
        raise CannotRun(f"{tree} is not a pynsq source tree (no tests/test_reader.py and nsq/): "
                        f"`{CLONE}`")
    return tree


def pynsq_version(tree: Path) -> str:
    for line in (tree / "nsq" / "version.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("'\"")
    return "unknown"


def ports_taken() -> list[int]:
    taken = []
    for port in PORTS:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                taken.append(port)
    return taken


def _shim(path: Path, command: str) -> None:
    path.write_text(f"#!/bin/sh\nexec {command} \"$@\"\n")
    path.chmod(0o755)


def outcomes(report: Path) -> dict[str, str]:
    """pytest's JUnit XML report as test id ("tests.test_x::Class::name") -> outcome."""
    result = {}
    for case in ElementTree.parse(report).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        result[name] = ("failed" if kinds & {"failure", "error"} else
                        "skipped" if "skipped" in kinds else "passed")
    return result


def run(tree: Path, workdir: Path, *, loop_shim: bool = True,
        pytest_args: tuple[str, ...] = (), timeout: float = 900) -> tuple[dict[str, str], str]:
    """Run pynsq's suite in `tree` against this checkout's mr_broker and mr_lookupd.

    Returns each test's outcome and pytest's output. Raises CannotRun when nsqd's ports are
    in use (pynsq's tests hard-code them).
    """
    taken = ports_taken()
    if taken:
        raise CannotRun(f"nsqd's ports {taken} are in use (a dev cluster?); pynsq's tests "
                        f"need {PORTS}")
    bin_dir, data_dir, site = workdir / "bin", workdir / "data", workdir / "site"
    for directory in (bin_dir, data_dir, site):
        directory.mkdir(parents=True, exist_ok=True)
    _shim(bin_dir / "nsqd", f"{sys.executable} -m mr.broker --data-path={data_dir}")
    _shim(bin_dir / "nsqlookupd", f"{sys.executable} -m mr.lookupd")
    (site / "mock.py").write_text("from unittest.mock import *  # noqa: F401,F403\n")
    plugins: list[str] = []
    if loop_shim:
        (site / "mr_pynsq_loop_shim.py").write_text(LOOP_SHIM)
        plugins = ["-p", "mr_pynsq_loop_shim"]
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(site)]),
               PYTHONDONTWRITEBYTECODE="1")
    report = workdir / "report.xml"
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *plugins, f"--junitxml={report}", *pytest_args, "tests"],
                         cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    if not report.exists():
        raise RuntimeError(f"pynsq's pytest wrote no report:\n{ran.stdout}\n{ran.stderr}")
    return outcomes(report), ran.stdout + ran.stderr


def summary(results: dict[str, str]) -> str:
    counts = {kind: sum(o == kind for o in results.values())
              for kind in ("passed", "failed", "skipped")}
    line = f"{counts['passed']} passed, {counts['failed']} failed"
    return line + (f", {counts['skipped']} skipped" if counts["skipped"] else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/pynsq_suite", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--source", help="a pynsq source tree (default: $MR_PYNSQ_SRC)")
    parser.add_argument("--without-loop-shim", action="store_true",
                        help="no current event loop at each test's start (three backoff "
                             "tests then fail, whatever the broker)")
    parser.add_argument("--verbose", action="store_true", help="print pytest's own output too")
    parser.add_argument("pytest_args", nargs="*", help="more arguments for pytest (after --)")
    args = parser.parse_args(argv)
    try:
        tree = source_tree(args.source)
        version = pynsq_version(tree)
        print(f"pynsq {version} tests from {tree}, against mr_broker and mr_lookupd "
              f"({'with' if not args.without_loop_shim else 'without'} the event loop shim)")
        if version != PYNSQ_TAG.lstrip("v"):
            print(f"note: the README's results are for pynsq {PYNSQ_TAG} ({PYNSQ_COMMIT})")
        with tempfile.TemporaryDirectory(prefix="pynsq_suite-") as workdir:
            results, output = run(tree, Path(workdir), loop_shim=not args.without_loop_shim,
                                  pytest_args=tuple(args.pytest_args))
    except CannotRun as exc:
        print(f"scripts/pynsq_suite: {exc}", file=sys.stderr)
        return 2
    if args.verbose:
        print(output)
    for name, outcome in results.items():
        print(f"{outcome.upper():8} {name}")
    print(f"pynsq suite: {summary(results)}")
    return 1 if "failed" in results.values() else 0


if __name__ == "__main__":
    sys.exit(main())
