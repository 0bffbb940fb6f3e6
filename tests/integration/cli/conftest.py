"""Fixtures for the admin and tracing scripts: run a script's main(argv) in-process against the
session's real etcd, and a fresh workflow holding the example handlers, steps and jobs."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from mr import examples
from tests.support.cluster import REPO, unique


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(etcd, monkeypatch, capsys):
    """cli(main, *argv) -> Ran(code, out, err), with MR_ETCD_HOSTS pointing at the test etcd."""
    monkeypatch.setenv("MR_ETCD_HOSTS", etcd.address)

    def call(main, *argv: str) -> Ran:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Ran(code, out, err)
    return call


@pytest.fixture
def run_script(etcd):
    """Run an installed console script as a real process (proves the entry point works)."""
    def call(*argv: str) -> Ran:
        if shutil.which(argv[0]) is None:
            pytest.fail(f"{argv[0]} is not on PATH: run `pip install -e .` to install the "
                        f"console scripts")
        env = {**os.environ, "MR_ETCD_HOSTS": etcd.address}
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        return Ran(done.returncode, done.stdout, done.stderr)
    return call


@pytest.fixture
def example_wf(kv):
    """A new workflow with the shipped example handlers, steps and jobs."""
    name = unique("cli")
    examples.define(kv, REPO / "handlers", workflow=name)
    return name

