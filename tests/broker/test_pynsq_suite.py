"""pynsq's own test suite, run against mr_broker and mr_lookupd instead of nsqd and nsqlookupd,
as scripts/pynsq_suite runs it (tests/support/pynsq_suite.py says how).

pynsq's source distribution on PyPI carries no tests, so the suite comes from a pynsq source
tree named by MR_PYNSQ_SRC (`git clone -b v0.9.1 https://github.com/nsqio/pynsq`); without one
this test is skipped, saying so, and also when another process holds nsqd's ports.
"""
from __future__ import annotations

import os

import pytest

from tests.support import pynsq_suite

# pynsq 0.9.1's tests: 16 of them start `nsqd` (and one also `nsqlookupd`).
PYNSQ_TESTS = 75


def test_pynsq_suite_passes_against_mr_broker(tmp_path):
    try:
        tree = pynsq_suite.source_tree(os.environ.get("MR_PYNSQ_SRC"))
    except pynsq_suite.CannotRun as exc:
        pytest.skip(str(exc))
    try:
        results, output = pynsq_suite.run(tree, tmp_path)
    except pynsq_suite.CannotRun as exc:
        pytest.skip(str(exc))
    failed = sorted(name for name, outcome in results.items() if outcome != "passed")
    print(f"pynsq suite against mr_broker: {pynsq_suite.summary(results)}")
    assert not failed, f"{failed}\n{output[-5000:]}"
    if pynsq_suite.pynsq_version(tree) == "0.9.1":
        assert len(results) == PYNSQ_TESTS, output[-5000:]
